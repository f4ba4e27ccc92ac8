// The scheduler trace (WEFT_TRACE) and task dumps (weft::format_tasks,
// SIGQUIT): the trace file is valid JSON naming every worker, with task
// slices and scheduler markers; a dump lists a known await chain, in both
// modes.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <weft/weft.hpp>

namespace {

// ---- a small JSON reader, strict enough to reject what a viewer would

struct json {
    enum kind_t { null, boolean, number, string, array, object } kind = null;
    double num = 0;
    std::string str;
    std::vector<json> items;
    std::map<std::string, json> fields;

    const json* get(const std::string& k) const {
        auto it = fields.find(k);
        return it == fields.end() ? nullptr : &it->second;
    }
};

class json_reader {
public:
    explicit json_reader(const std::string& text) : s_(text) {}

    json document() {
        json v = value();
        ws();
        if (i_ != s_.size()) fail("text after the document");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& why) {
        throw std::runtime_error("invalid JSON at byte " + std::to_string(i_) + ": " + why);
    }
    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
            ++i_;
    }
    void expect(char c) {
        ws();
        if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected '") + c + "'");
        ++i_;
    }
    json value() {
        ws();
        if (i_ >= s_.size()) fail("unexpected end");
        char c = s_[i_];
        json v;
        if (c == '{') {
            v.kind = json::object;
            ++i_;
            ws();
            if (s_[i_] == '}') {
                ++i_;
                return v;
            }
            for (;;) {
                ws();
                std::string k = str();
                expect(':');
                v.fields[k] = value();
                ws();
                if (s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.kind = json::array;
            ++i_;
            ws();
            if (s_[i_] == ']') {
                ++i_;
                return v;
            }
            for (;;) {
                v.items.push_back(value());
                ws();
                if (s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                expect(']');
                return v;
            }
        }
        if (c == '"') {
            v.kind = json::string;
            v.str = str();
            return v;
        }
        if (s_.compare(i_, 4, "true") == 0 || s_.compare(i_, 5, "false") == 0) {
            v.kind = json::boolean;
            i_ += s_[i_] == 't' ? 4 : 5;
            return v;
        }
        if (s_.compare(i_, 4, "null") == 0) {
            i_ += 4;
            return v;
        }
        std::size_t used = 0;
        try {
            v.num = std::stod(s_.substr(i_, 32), &used);
        } catch (...) {
            fail("not a value");
        }
        v.kind = json::number;
        i_ += used;
        return v;
    }
    std::string str() {
        if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string");
        ++i_;
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c == '\\') {
                if (i_ >= s_.size()) fail("unfinished escape");
                char e = s_[i_++];
                if (e == 'u') {
                    if (i_ + 4 > s_.size()) fail("short \\u escape");
                    out += '?';
                    i_ += 4;
                    continue;
                }
                if (std::string("\"\\/bfnrt").find(e) == std::string::npos) fail("bad escape");
                out += e;
                continue;
            }
            out += c;
        }
        if (i_ >= s_.size()) fail("unterminated string");
        ++i_;
        return out;
    }

    const std::string& s_;
    std::size_t i_ = 0;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string temp_path(const char* tag) {
    return ::testing::TempDir() + "weft_" + tag + "_" + std::to_string(::getpid());
}

TEST(JsonReader, RejectsWhatAViewerWould) {
    EXPECT_NO_THROW(json_reader(std::string(R"({"a":[1,2.5,"x\n"],"b":{}})")).document());
    for (const char* bad : {R"({"a":1,})", R"({"a":1)", R"(["x])", R"({"a" 1})"}) {
        std::string text = bad;
        EXPECT_THROW(json_reader(text).document(), std::runtime_error) << bad;
    }
}

// ---- the trace

TEST(Trace, FileIsValidJsonNamingEveryWorkerWithStepsAndMarkers) {
    std::string path = temp_path("trace") + ".json";
    std::string cmd = "WEFT_TRACE='" + path + "' '" WEFT_TRACE_PROGRAM "' trace 4 > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string text = read_file(path);
    ASSERT_FALSE(text.empty()) << "no trace written to " << path;
    json doc = json_reader(text).document();
    const json* events = doc.get("traceEvents");
    ASSERT_NE(events, nullptr);
    ASSERT_EQ(events->kind, json::array);

    std::map<double, std::string> lanes;  // tid -> name
    std::set<std::string> markers;
    std::set<double> lanes_with_steps;
    int leaf_slices = 0;
    for (const json& e : events->items) {
        ASSERT_EQ(e.kind, json::object);
        const json* ph = e.get("ph");
        const json* name = e.get("name");
        ASSERT_TRUE(ph && name && ph->kind == json::string && name->kind == json::string);
        if (ph->str == "M" && name->str == "thread_name") {
            lanes[e.get("tid")->num] = e.get("args")->get("name")->str;
        } else if (ph->str == "X") {
            ASSERT_NE(e.get("ts"), nullptr);
            ASSERT_NE(e.get("dur"), nullptr);
            EXPECT_GE(e.get("dur")->num, 0);
            if (name->str.rfind("leaf-", 0) == 0) ++leaf_slices;
            lanes_with_steps.insert(e.get("tid")->num);
        } else if (ph->str == "i") {
            markers.insert(name->str);
        }
    }
    std::set<std::string> names;
    for (auto& [tid, n] : lanes)
        names.insert(n);
    for (int w = 0; w < 4; ++w)
        EXPECT_TRUE(names.count("worker thread " + std::to_string(w)))
            << "worker " << w << " unnamed";
    EXPECT_TRUE(names.count("monitor"));
    // 1000 leaf tasks, each one step at least.
    EXPECT_GE(leaf_slices, 1000);
    for (double tid : lanes_with_steps)
        EXPECT_TRUE(lanes.count(tid)) << "steps on an unnamed lane";
    EXPECT_TRUE(markers.count("park"));
    EXPECT_TRUE(markers.count("hand-off (weft::blocking)"));
    std::remove(path.c_str());
}

TEST(Trace, AnUnwritablePathIsReportedAndTheProgramStillSucceeds) {
    std::string err = temp_path("trace_bad") + ".err";
    std::string cmd = "WEFT_TRACE=/nonexistent-dir/trace.json '" WEFT_TRACE_PROGRAM
                      "' trace 2 > /dev/null 2> '" +
                      err + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::string text = read_file(err);
    EXPECT_NE(text.find("weft: WEFT_TRACE: cannot write /nonexistent-dir/trace.json"),
              std::string::npos)
        << text;
    std::remove(err.c_str());
}

// ---- task dumps

std::atomic<int> g_waiting{0};

weft::task<void> innermost_wait(weft::event* e) {
    g_waiting.fetch_add(1);
    co_await e->wait();
}

weft::task<void> nested_wait(weft::event* e) {
    co_await innermost_wait(e);
}

weft::task<std::string> dump_main() {
    g_waiting = 0;
    weft::event e;
    auto h = weft::create_task(nested_wait(&e), "sleeper");
    auto other = weft::create_task(nested_wait(&e), "second");
    // Until both wait (in Go mode the dump lets a step in progress finish).
    while (g_waiting.load() < 2)
        co_await weft::yield_now();
    std::string s = weft::format_tasks();
    e.set();
    co_await h;
    co_await other;
    co_return s;
}

// The lines of the dump that belong to task `name`.
std::vector<std::string> task_lines(const std::string& dump, const std::string& name) {
    std::vector<std::string> out;
    std::istringstream in(dump);
    std::string line;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind("Task '", 0) == 0) inside = line.rfind("Task '" + name + "'", 0) == 0;
        if (inside) out.push_back(line);
    }
    return out;
}

void expect_known_chain(const std::string& dump) {
    std::vector<std::string> lines = task_lines(dump, "sleeper");
    ASSERT_EQ(lines.size(), 3u) << dump;
    EXPECT_NE(lines[0].find("pending"), std::string::npos) << dump;
    // Outermost first: the task's root, then what it awaits inline.
    EXPECT_NE(lines[1].find("nested_wait"), std::string::npos) << dump;
    EXPECT_NE(lines[1].find("test_trace_dump.cpp:"), std::string::npos) << dump;
    EXPECT_NE(lines[2].find("innermost_wait"), std::string::npos) << dump;
    EXPECT_NE(dump.find("running (the task asking for this dump)"), std::string::npos) << dump;
}

TEST(TaskDump, ListsAKnownAwaitChainSingleThread) {
    std::string dump = weft::run(dump_main(), {.threads = 1});
    expect_known_chain(dump);
    EXPECT_EQ(dump.rfind("3 live tasks\n", 0), 0u) << dump;
}

TEST(TaskDump, ListsAKnownAwaitChainGoMode) {
    std::string dump = weft::run(dump_main(), {.threads = 4});
    expect_known_chain(dump);
    EXPECT_EQ(dump.rfind("3 live tasks on 4 workers\n", 0), 0u) << dump;
}

// Go mode: a task whose step blocks its thread (the monitor hands that
// loop to another thread) goes on while a dump has stopped the world, and
// changes its chain after the dump looked. Its frames must not be read:
// under ThreadSanitizer reading them is a race with the step.
weft::task<void> nothing() {
    co_return;
}

weft::task<void> blocks_then_awaits(std::atomic<bool>* inside) {
    inside->store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // blocks the thread
    co_await nothing();  // the chain changes on the blocked thread
    co_await nothing();
}

weft::task<std::string> dump_beside_a_blocked_step() {
    std::atomic<bool> inside{false};
    auto h = weft::create_task(blocks_then_awaits(&inside), "blocked");
    while (!inside.load())
        co_await weft::sleep(0.001);
    co_await weft::sleep(0.05);  // far past the 10 ms threshold: handed off
    std::string s = weft::format_tasks();
    co_await h;
    co_return s;
}

TEST(TaskDump, AStepBlockedOnItsThreadIsNotReadGoMode) {
    std::string dump = weft::run(dump_beside_a_blocked_step(), {.threads = 2});
    EXPECT_NE(dump.find("Task 'blocked'"), std::string::npos) << dump;
    EXPECT_NE(dump.find("a thread is blocked in a task step"), std::string::npos) << dump;
    // The task's line alone: no frame locations.
    EXPECT_EQ(task_lines(dump, "blocked").size(), 1u) << dump;
}

TEST(TaskDump, OutsideALoopRaises) {
    EXPECT_THROW(weft::format_tasks(), std::logic_error);
}

TEST(TaskDump, SigquitPrintsTheDumpWhenEnabled) {
    for (int threads : {1, 2}) {
        std::string err = temp_path("sigquit") + ".err";
        std::string cmd = "'" WEFT_TRACE_PROGRAM "' sigquit " + std::to_string(threads) +
                          " > /dev/null 2> '" + err + "'";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << read_file(err);
        std::string text = read_file(err);
        EXPECT_NE(text.find("Task 'sleeper' pending"), std::string::npos) << text;
        EXPECT_NE(text.find("nested_wait"), std::string::npos) << text;
        EXPECT_NE(text.find("innermost_wait"), std::string::npos) << text;
        std::remove(err.c_str());
    }
}

}  // namespace

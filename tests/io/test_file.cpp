// weft::file on both backends (io_uring's ring, and the blocking threads of
// epoll), in both modes: Python's open modes, reading and writing at the
// position and at offsets, concurrent preads, errors named, a closed file,
// cancellation (in the ring, and a position that does not move), and many
// tasks at once in Go mode. The fixture checks that no fd is left open.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_test.hpp"

namespace {

using weft_io_test::io_modes;

// (threads, backend)
class Files : public ::testing::TestWithParam<std::tuple<int, weft::io_backend>> {
protected:
    void SetUp() override {
        if (backend() == weft::io_backend::uring && !weft::probe_io_uring().available) {
            GTEST_SKIP() << "no io_uring here: " << weft::probe_io_uring().why;
        }
        dir_ = std::filesystem::temp_directory_path() /
               ("weft_file_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        std::filesystem::create_directories(dir_);
        fds_before_ = count_fds();
    }
    void TearDown() override {
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
        // A request a cancelled task left behind may still hold its fd a moment.
        int after = count_fds();
        for (int i = 0; i < 100 && after != fds_before_; ++i) {
            ::usleep(10'000);
            after = count_fds();
        }
        EXPECT_EQ(after, fds_before_) << "fds left open by the test";
    }
    int threads() const { return std::get<0>(GetParam()); }
    weft::io_backend backend() const { return std::get<1>(GetParam()); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    std::string expected_runs_on() const {
        return backend() == weft::io_backend::uring ? "uring" : "thread";
    }

    template <class T>
    T run(weft::task<T> main) {
        return weft::run(std::move(main), {.threads = threads(), .io = backend()});
    }

private:
    static int count_fds() {
        int n = 0;
        for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
            ++n;
        return n;
    }
    static inline int counter_ = 0;
    std::filesystem::path dir_;
    int fds_before_ = 0;
};

INSTANTIATE_TEST_SUITE_P(
    Modes, Files,
    ::testing::Combine(::testing::Values(1, 2),
                       ::testing::Values(weft::io_backend::epoll, weft::io_backend::uring)),
    [](const auto& p) {
        return std::string(std::get<0>(p.param) == 1 ? "asyncio" : "go2") + "_" +
               (std::get<1>(p.param) == weft::io_backend::uring ? "uring" : "epoll");
    });

std::string pattern(std::size_t n, std::size_t seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>((i * 131 + seed * 7 + i / 251) & 0xff);
    return s;
}

TEST_P(Files, WriteThenReadBack) {
    run([](std::string p, std::string runs_on) -> weft::task<void> {
        {
            weft::file f = co_await weft::file::open(p, "w");
            EXPECT_TRUE(f.is_open());
            EXPECT_EQ(f.runs_on(), runs_on);
            EXPECT_EQ(co_await f.write("hello, "), 7u);
            EXPECT_EQ(co_await f.write("file\n"), 5u);
            EXPECT_EQ(f.tell(), 12u);
            co_await f.fsync();
            co_await f.close();
            EXPECT_FALSE(f.is_open());
            EXPECT_EQ(f.fileno(), -1);
        }
        weft::file f = co_await weft::file::open(p);  // "r"
        EXPECT_EQ(co_await f.read(5), "hello");
        EXPECT_EQ(co_await f.read(), ", file\n");
        EXPECT_EQ(co_await f.read(10), "");  // the end
        EXPECT_EQ(co_await f.pread(4, 7), "file");
        EXPECT_EQ(f.tell(), 12u);
        f.seek(0);
        EXPECT_EQ(co_await f.read(100), "hello, file\n");
        co_await f.close();
        co_await f.close();  // a second close does nothing
    }(path("a.txt"), expected_runs_on()));
}

TEST_P(Files, ModesAsPythonsOpen) {
    run([](std::string p) -> weft::task<void> {
        {
            weft::file f = co_await weft::file::open(p, "wb");
            co_await f.write("0123456789");
            co_await f.close();
        }
        {
            weft::file f = co_await weft::file::open(p, "a");  // appends
            co_await f.write("abc");
            co_await f.close();
        }
        {
            weft::file f = co_await weft::file::open(p, "r+");  // read and write, no truncation
            EXPECT_EQ(co_await f.read(2), "01");
            co_await f.write("XY");  // at the position
            f.seek(0);
            EXPECT_EQ(co_await f.read(), "01XY456789abc");
            co_await f.close();
        }
        {
            weft::file f = co_await weft::file::open(p, "w+");  // truncated
            EXPECT_EQ(co_await f.read(), "");
            co_await f.pwrite("pq", 3);  // a hole before it
            EXPECT_EQ(co_await f.pread(10, 0), std::string("\0\0\0pq", 5));
            co_await f.close();
        }
        // "x": created, must not exist.
        bool exists = false;
        try {
            co_await weft::file::open(p, "x");
        } catch (const std::system_error& e) {
            exists = e.code() == std::errc::file_exists;
        }
        EXPECT_TRUE(exists);
    }(path("m.bin")));
}

TEST_P(Files, ErrorsNameTheCallAndTheFile) {
    run([](std::string dir) -> weft::task<void> {
        std::string missing = dir + "/missing.txt";
        bool raised = false;
        try {
            co_await weft::file::open(missing);
        } catch (const std::system_error& e) {
            raised = e.code() == std::errc::no_such_file_or_directory;
            EXPECT_EQ(std::string(e.what()),
                      "weft::file::open: " + missing + ": No such file or directory");
        }
        EXPECT_TRUE(raised);
        for (const char* bad : {"", "rw", "q", "r++", "rbb", "wa"}) {
            EXPECT_THROW(co_await weft::file::open(missing, bad), std::invalid_argument) << bad;
        }
        // Reading a file opened for writing: the syscall's EBADF.
        weft::file w = co_await weft::file::open(dir + "/w.txt", "w");
        bool ebadf = false;
        try {
            co_await w.read(1);
        } catch (const std::system_error& e) {
            ebadf = e.code() == std::errc::bad_file_descriptor;
        }
        EXPECT_TRUE(ebadf);
        co_await w.close();
        EXPECT_THROW(co_await w.write("x"), weft::closed_error);
        EXPECT_THROW(co_await w.read(), weft::closed_error);
        EXPECT_THROW(co_await w.fsync(), weft::closed_error);
        EXPECT_THROW((void)w.tell(), weft::closed_error);
        weft::file none;
        EXPECT_FALSE(none.is_open());
        EXPECT_THROW(co_await none.read(), weft::closed_error);
        // A directory opened for writing.
        bool isdir = false;
        try {
            co_await weft::file::open(dir, "w");
        } catch (const std::system_error& e) {
            isdir = e.code() == std::errc::is_a_directory;
        }
        EXPECT_TRUE(isdir);
    }(path("")));
}

TEST_P(Files, LargeFileWholeAndInPieces) {
    run([](std::string p) -> weft::task<void> {
        std::string big = pattern(3 * 1024 * 1024 + 123, 1);
        weft::file w = co_await weft::file::open(p, "w");
        EXPECT_EQ(co_await w.write(big), big.size());
        co_await w.close();
        weft::file r = co_await weft::file::open(p);
        std::string all = co_await r.read();
        EXPECT_TRUE(all == big) << all.size() << " bytes of " << big.size();
        // 64 preads of 4 KiB at once, each checked.
        std::vector<weft::task_handle<bool>> reads;
        for (std::size_t i = 0; i < 64; ++i) {
            std::uint64_t off = (i * 40'961) % (big.size() - 4096);
            reads.push_back(weft::create_task(
                [](weft::file& f, std::uint64_t at, const std::string& want) -> weft::task<bool> {
                    co_return co_await f.pread(4096, at) == want.substr(at, 4096);
                }(r, off, big)));
        }
        int ok = 0;
        for (auto& t : reads)
            ok += co_await t;
        EXPECT_EQ(ok, 64);
        co_await r.close();
    }(path("big.bin")));
}

// A second read() while one is running is refused: the first waits on a
// FIFO nobody writes to yet, so it is certainly still running.
TEST_P(Files, OneReadOrWriteAtATime) {
    std::string fifo = path("fifo1");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    run([](std::string p) -> weft::task<void> {
        weft::file f = co_await weft::file::open(p, "r+");  // O_RDWR: open does not wait
        std::atomic<bool> started{false};
        auto first = weft::create_task(
            [](weft::file& file, std::atomic<bool>& go) -> weft::task<std::string> {
                go = true;
                co_return co_await file.read(5);
            }(f, started));
        while (!started.load())
            co_await weft::sleep(0.001);
        co_await weft::sleep(0.02);  // inside read() now, waiting for bytes
        bool refused = false;
        try {
            co_await f.read(1);
        } catch (const std::logic_error& e) {
            refused = std::string(e.what()).find("another read() or write()") != std::string::npos;
        }
        EXPECT_TRUE(refused);
        EXPECT_THROW(co_await f.write("x"), std::logic_error);
        EXPECT_THROW(f.seek(0), std::logic_error);
        int w = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
        EXPECT_EQ(::write(w, "hello", 5), 5);
        ::close(w);
        EXPECT_EQ(co_await weft::wait_for(std::move(first), 5.0), "hello");
        co_await f.close();
    }(fifo));
}

// A read that cannot finish (a FIFO nobody writes to), cancelled by a
// timeout: the loop goes on, the position stays, and on io_uring the
// request is cancelled in the ring, so later bytes are not taken by it.
TEST_P(Files, CancelledReadOfAFifo) {
    std::string fifo = path("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    bool uring = backend() == weft::io_backend::uring;
    run([](std::string p, bool in_ring) -> weft::task<void> {
        weft::file f = co_await weft::file::open(p, "r+");  // O_RDWR: open does not wait
        bool timed_out = false;
        try {
            co_await weft::wait_for(f.read(10), 0.05);
        } catch (const weft::timeout_error&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_EQ(f.tell(), 0u);
        int w = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
        if (in_ring) {
            // Cancelled in the ring: the bytes go to the next read.
            EXPECT_EQ(::write(w, "hello", 5), 5);
            EXPECT_EQ(co_await weft::wait_for(f.read(5), 5.0), "hello");
        } else {
            // On the blocking threads the abandoned read(2) still waits,
            // holding the fd: a byte ends it, and the fd closes after it.
            EXPECT_EQ(::write(w, "x", 1), 1);
        }
        ::close(w);
        co_await f.close();
    }(fifo, uring));
}

// A loop that never runs out of ready tasks still takes in its files'
// completions: another task yields over and over while a read is in flight,
// and the read must finish (the ring's CQEs are reaped between tasks, not
// only when the loop has nothing else to do).
TEST_P(Files, CompletionsArriveWhileTheLoopIsBusy) {
    run([](std::string p) -> weft::task<void> {
        {
            weft::file w = co_await weft::file::open(p, "w");
            co_await w.write(pattern(128 * 1024, 3));
            co_await w.close();
        }
        weft::file f = co_await weft::file::open(p);
        std::atomic<bool> done{false};
        auto spinner = weft::create_task([](std::atomic<bool>& stop) -> weft::task<int> {
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            int turns = 0;
            while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
                co_await weft::sleep(0);
                ++turns;
            }
            co_return turns;
        }(done));
        for (int i = 0; i < 20; ++i) {
            std::string got = co_await f.pread(4096, static_cast<std::uint64_t>(i) * 4096);
            EXPECT_EQ(got.size(), 4096u);
        }
        bool in_time = !spinner.done();
        done = true;
        co_await spinner;
        EXPECT_TRUE(in_time) << "the reads finished only once the busy task gave up (5 s)";
        co_await f.close();
    }(path("busy.bin")));
}

// Many tasks, each with its own file, at once (across workers in Go mode).
TEST_P(Files, ManyTasksManyFiles) {
    run([](std::string dir) -> weft::task<void> {
        std::vector<weft::task_handle<bool>> tasks;
        for (std::size_t i = 0; i < 32; ++i) {
            tasks.push_back(
                weft::create_task([](std::string p, std::size_t id) -> weft::task<bool> {
                    std::string data = pattern(10'000 + id * 997, id);
                    weft::file w = co_await weft::file::open(p, "w");
                    co_await w.write(data);
                    co_await w.close();
                    weft::file r = co_await weft::file::open(p);
                    bool same = co_await r.read() == data;
                    co_await r.close();
                    co_return same;
                }(dir + "/f" + std::to_string(i), i)));
        }
        int ok = 0;
        for (auto& t : tasks)
            ok += co_await t;
        EXPECT_EQ(ok, 32);
    }(path("")));
}

}  // namespace

// Runs the I/O examples as a user would: starts a server on a free port,
// reads the address it prints, talks to it with the matching client or with
// curl, then stops it with SIGTERM and checks that it closed cleanly. In
// asyncio mode (--threads 1) and Go mode (--threads 2).
//
// Plain POSIX here, not weft: the examples are what is under test.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

std::string example(const std::string& name) {
    return std::string(WEFT_EXAMPLES_DIR) + "/" + name;
}

// A program started with its stdout and stderr on one pipe.
class program {
public:
    explicit program(std::vector<std::string> argv) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(fds[1], 1);
            ::dup2(fds[1], 2);
            std::vector<char*> args;
            for (auto& a : argv)
                args.push_back(a.data());
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            std::perror("exec");
            ::_exit(127);
        }
        ::close(fds[1]);
        out_ = fds[0];
    }
    program(const program&) = delete;
    program& operator=(const program&) = delete;
    ~program() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) ::close(out_);
    }

    // The next line of output ("" on timeout or end of output).
    std::string read_line(double timeout_s = 10) {
        auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(timeout_s));
        for (;;) {
            if (auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            if (!fill(deadline)) return "";
        }
    }
    // Everything until the program's output ends (it exited), then its
    // wait status.
    int finish(std::string& rest, double timeout_s = 15) {
        auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(timeout_s));
        while (fill(deadline)) {
        }
        rest = std::move(buf_);
        int status = -1;
        for (;;) {
            pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) break;
            if (clock_type::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        pid_ = -1;
        return status;
    }
    void signal(int sig) { ::kill(pid_, sig); }

private:
    bool fill(clock_type::time_point deadline) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        if (left.count() <= 0) return false;
        pollfd p{out_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char chunk[4096];
        ssize_t n = ::read(out_, chunk, sizeof chunk);
        if (n <= 0) return false;
        buf_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    pid_t pid_ = -1;
    int out_ = -1;
    std::string buf_;
};

struct result {
    int status;
    std::string output;
    double seconds;
};

result run_to_end(std::vector<std::string> argv, double timeout_s = 30) {
    auto t0 = clock_type::now();
    program p(std::move(argv));
    result r{};
    r.status = p.finish(r.output, timeout_s);
    r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    return r;
}

bool exited_ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A server example on a free port; the port is read from its first line.
class server {
public:
    server(const std::string& name, int threads)
        : p_({example(name), "--port", "0", "--threads", std::to_string(threads)}) {
        first_line_ = p_.read_line();
        auto colon = first_line_.rfind(':');
        if (colon != std::string::npos) port_ = std::atoi(first_line_.c_str() + colon + 1);
    }
    int port() const { return port_; }
    const std::string& first_line() const { return first_line_; }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    // SIGTERM, then what it printed after the first line and whether it
    // exited with status 0.
    bool stop(std::string& rest) {
        p_.signal(SIGTERM);
        return exited_ok(p_.finish(rest));
    }

private:
    program p_;
    std::string first_line_;
    int port_ = 0;
};

class Examples : public ::testing::TestWithParam<int> {};
std::string threads_name(const ::testing::TestParamInfo<int>& p) {
    return "threads" + std::to_string(p.param);
}
INSTANTIATE_TEST_SUITE_P(Threads, Examples, ::testing::Values(1, 2), threads_name);

TEST_P(Examples, EchoServer) {
    server s("echo_server", GetParam());
    ASSERT_GT(s.port(), 0) << s.first_line();
    EXPECT_NE(s.first_line().find("threads=" + std::to_string(GetParam())), std::string::npos);
    // Three clients at once.
    std::vector<std::thread> clients;
    std::vector<result> results(3);
    for (int i = 0; i < 3; ++i) {
        clients.emplace_back([&, i] {
            results[static_cast<std::size_t>(i)] =
                run_to_end({example("echo_client"), "--port", std::to_string(s.port()), "--message",
                            "client" + std::to_string(i), "--count", "5"});
        });
    }
    for (auto& t : clients)
        t.join();
    for (int i = 0; i < 3; ++i) {
        const result& r = results[static_cast<std::size_t>(i)];
        EXPECT_TRUE(exited_ok(r.status)) << r.output;
        EXPECT_NE(r.output.find("sent and received: client" + std::to_string(i) + " 5"),
                  std::string::npos)
            << r.output;
    }
    std::string rest;
    EXPECT_TRUE(s.stop(rest)) << rest;
    EXPECT_EQ(rest, "server closed\n");
}

TEST_P(Examples, EchoClient) {
    server s("echo_server", 1);
    result r = run_to_end({example("echo_client"), "--port", std::to_string(s.port()), "--threads",
                           std::to_string(GetParam())});
    EXPECT_TRUE(exited_ok(r.status)) << r.output;
    EXPECT_EQ(r.output, "connected to 127.0.0.1:" + std::to_string(s.port()) +
                            "\n"
                            "sent and received: hello 1\n"
                            "sent and received: hello 2\n"
                            "sent and received: hello 3\n"
                            "closed\n");
    // Nobody listening: a clear error, exit status 1.
    std::string rest;
    s.stop(rest);
    result refused = run_to_end({example("echo_client"), "--port", std::to_string(s.port())});
    EXPECT_EQ(WEXITSTATUS(refused.status), 1);
    EXPECT_NE(refused.output.find("Connection refused"), std::string::npos) << refused.output;
}

result curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"curl", "-s", "--max-time", "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_to_end(argv);
}

TEST_P(Examples, HttpServer) {
    server s("http_server", GetParam());
    ASSERT_GT(s.port(), 0) << s.first_line();

    result root = curl({"-i", s.url("/")});
    EXPECT_NE(root.output.find("HTTP/1.1 200 OK"), std::string::npos) << root.output;
    EXPECT_NE(root.output.find("content-type: application/json"), std::string::npos);
    EXPECT_NE(root.output.find("\r\n\r\n{\"Hello\": \"World\"}"), std::string::npos) << root.output;

    result timeit = curl({s.url("/timeit/1")});
    EXPECT_EQ(timeit.output, "\"sleep seconds: 1\"");
    EXPECT_GE(timeit.seconds, 0.95);
    EXPECT_LT(timeit.seconds, 3.0);

    // Keep-alive: curl reuses its connection for the next URLs (0 new connects).
    result three = curl({"-w", " %{http_code} %{num_connects}\\n", s.url("/"), s.url("/timeit/0"),
                         s.url("/nowhere")});
    EXPECT_EQ(three.output,
              "{\"Hello\": \"World\"} 200 1\n"
              "\"sleep seconds: 0\" 200 0\n"
              "{\"detail\":\"Not Found\"} 404 0\n");

    result post = curl({"-X", "POST", "-w", " %{http_code}", s.url("/")});
    EXPECT_EQ(post.output, "{\"detail\":\"Method Not Allowed\"} 405");

    result block = curl({s.url("/block/0.2")});
    EXPECT_EQ(block.output, "\"block seconds: 0.2\"");

    std::string rest;
    EXPECT_TRUE(s.stop(rest)) << rest;
    EXPECT_EQ(rest, "server closed\n");
}

TEST(ExamplesAsyncio, HttpServerBlockStopsEverythingInAsyncioMode) {
    server s("http_server", 1);
    auto t0 = clock_type::now();
    std::thread blocker([&] { curl({s.url("/block/1")}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    result root = curl({s.url("/")});  // waits for the blocked loop
    double waited = std::chrono::duration<double>(clock_type::now() - t0).count();
    blocker.join();
    EXPECT_EQ(root.output, "{\"Hello\": \"World\"}");
    EXPECT_GE(waited, 0.9) << "GET / should have waited for /block/1";
}

TEST(ExamplesAsyncio, HttpServerTimeitOverlapsInAsyncioMode) {
    server s("http_server", 1);
    auto t0 = clock_type::now();
    std::vector<std::thread> clients;
    for (int i = 0; i < 5; ++i)
        clients.emplace_back([&] { curl({s.url("/timeit/1")}); });
    for (auto& t : clients)
        t.join();
    double took = std::chrono::duration<double>(clock_type::now() - t0).count();
    EXPECT_LT(took, 2.5) << "five /timeit/1 on one thread should overlap";
}

TEST_P(Examples, HttpClient) {
    server s("http_server", GetParam());
    result r = run_to_end({example("http_client"), "--port", std::to_string(s.port())});
    EXPECT_TRUE(exited_ok(r.status)) << r.output;
    EXPECT_NE(r.output.find("/timeit/1 -> 200 \"sleep seconds: 1\"\n"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("/timeit/2 -> 200 \"sleep seconds: 2\"\n"), std::string::npos)
        << r.output;
    auto at = r.output.find("total time is: ");
    ASSERT_NE(at, std::string::npos) << r.output;
    double total = std::atof(r.output.c_str() + at + 15);
    EXPECT_GE(total, 1.95) << r.output;
    EXPECT_LT(total, 2.8) << "the two requests must overlap: 2 s, not 3\n" << r.output;
}

}  // namespace

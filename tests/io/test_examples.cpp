// Runs the I/O examples as a user would: starts a server on a free port,
// reads the address it prints, talks to it with the matching client or with
// curl, then stops it with SIGTERM and checks that it closed cleanly. In
// asyncio mode (--threads 1) and Go mode (--threads 2).
//
// Plain POSIX here, not weft: the examples are what is under test.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
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
    server(const std::string& name, int threads, std::vector<std::string> extra = {})
        : p_(with(extra, {example(name), "--port", "0", "--threads", std::to_string(threads)})) {
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
    void signal(int sig) { p_.signal(sig); }
    // What it printed after the first line, and its wait status, once it exits.
    int finish(std::string& rest, double timeout_s = 15) { return p_.finish(rest, timeout_s); }

private:
    static std::vector<std::string> with(const std::vector<std::string>& extra,
                                         std::vector<std::string> argv) {
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }
    program p_;
    std::string first_line_;
    int port_ = 0;
};

// A plain blocking TCP connection to 127.0.0.1:port.
class connection {
public:
    explicit connection(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { close(); }
    bool ok() const { return fd_ >= 0; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    bool send(const std::string& data) {
        return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(data.size());
    }
    // Reads until `data` holds `want` bytes past what it had (or ends with
    // `suffix`), the peer's end of stream, an error or the timeout.
    // Returns 0 at end of stream, an errno on error, -1 on timeout, -2 when
    // the wanted bytes are there.
    int read(std::string& data, std::string_view suffix, double timeout_s = 10) {
        auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                std::chrono::duration<double>(timeout_s));
        for (;;) {
            if (!suffix.empty() && data.size() >= suffix.size() &&
                data.compare(data.size() - suffix.size(), suffix.size(), suffix) == 0) {
                return -2;
            }
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return -1;
            char chunk[4096];
            ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n == 0) return 0;
            if (n < 0) return errno;
            data.append(chunk, static_cast<std::size_t>(n));
        }
    }
    // Everything until the peer's end of stream: 0, or an errno, or -1 on timeout.
    int read_to_eof(std::string& data, double timeout_s = 10) { return read(data, "", timeout_s); }

private:
    int fd_ = -1;
};

std::string read_status(int r) {
    if (r == 0) return "end of stream";
    if (r == -1) return "timeout";
    if (r == -2) return "data";
    return std::strerror(r);
}

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

#ifdef WEFT_TLS_CERT_DIR
std::string test_cert(const std::string& name) {
    return std::string(WEFT_TLS_CERT_DIR) + "/" + name;
}

bool have_test_certs() {
    return ::access(test_cert("ca.pem").c_str(), R_OK) == 0;
}
#define SKIP_WITHOUT_TEST_CERTS()                                   \
    if (!have_test_certs())                                         \
    GTEST_SKIP() << "no test certificates in " << WEFT_TLS_CERT_DIR \
                 << " (made by the tls.make_certs test, which needs the openssl command)"

// SIGTERM stops the server cleanly, after it reported (on stderr) a client
// whose TLS handshake failed.
void expect_stops_having_reported_a_refused_handshake(server& s) {
    std::string rest;
    EXPECT_TRUE(s.stop(rest)) << rest;
    EXPECT_NE(rest.find("TLS handshake failed"), std::string::npos) << rest;
    EXPECT_NE(rest.find("server closed\n"), std::string::npos) << rest;
}

// The TLS pair against each other: clients verify the server against the
// test CA; one that trusts only the system's store is refused, naming why.
TEST_P(Examples, TlsEchoServer) {
    SKIP_WITHOUT_TEST_CERTS();
    server s("tls_echo_server", GetParam(),
             {"--cert", test_cert("localhost.pem"), "--key", test_cert("localhost.key")});
    ASSERT_GT(s.port(), 0) << s.first_line();
    EXPECT_NE(s.first_line().find("tls echo server listening on 127.0.0.1:"), std::string::npos);
    std::vector<std::thread> clients;
    std::vector<result> results(3);
    for (int i = 0; i < 3; ++i) {
        clients.emplace_back([&, i] {
            results[static_cast<std::size_t>(i)] =
                run_to_end({example("tls_echo_client"), "--port", std::to_string(s.port()),
                            "--cafile", test_cert("ca.pem"), "--server-hostname", "localhost",
                            "--message", "client" + std::to_string(i), "--count", "5"});
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
    result untrusted = run_to_end({example("tls_echo_client"), "--port", std::to_string(s.port()),
                                   "--server-hostname", "localhost"});
    EXPECT_EQ(WEXITSTATUS(untrusted.status), 1);
    EXPECT_NE(untrusted.output.find("tls_echo_client: weft::open_connection: certificate verify "
                                    "failed: unable to get local issuer certificate"),
              std::string::npos)
        << untrusted.output;
    // The refused client's handshake is reported; the server goes on.
    expect_stops_having_reported_a_refused_handshake(s);
}

TEST_P(Examples, TlsEchoClient) {
    SKIP_WITHOUT_TEST_CERTS();
    server s("tls_echo_server", 1,
             {"--cert", test_cert("localhost.pem"), "--key", test_cert("localhost.key")});
    result r = run_to_end({example("tls_echo_client"), "--port", std::to_string(s.port()),
                           "--cafile", test_cert("ca.pem"), "--server-hostname", "localhost",
                           "--threads", std::to_string(GetParam())});
    EXPECT_TRUE(exited_ok(r.status)) << r.output;
    EXPECT_EQ(r.output, "connected to 127.0.0.1:" + std::to_string(s.port()) +
                            " over TLSv1.3\n"
                            "sent and received: hello 1\n"
                            "sent and received: hello 2\n"
                            "sent and received: hello 3\n"
                            "closed\n");
    // A name the certificate does not carry.
    result mismatch =
        run_to_end({example("tls_echo_client"), "--port", std::to_string(s.port()), "--cafile",
                    test_cert("ca.pem"), "--server-hostname", "other.invalid"});
    EXPECT_EQ(WEXITSTATUS(mismatch.status), 1);
    EXPECT_NE(mismatch.output.find("certificate verify failed: hostname mismatch"),
              std::string::npos)
        << mismatch.output;
    std::string rest;
    EXPECT_TRUE(s.stop(rest)) << rest;
    // A server certificate that cannot be read: one line, exit status 1.
    result missing =
        run_to_end({example("tls_echo_server"), "--port", "0", "--cert", test_cert("no-such.pem")});
    EXPECT_EQ(WEXITSTATUS(missing.status), 1);
    EXPECT_NE(missing.output.find("tls_echo_server: weft::ssl_context::load_cert_chain: reading "
                                  "the certificate chain"),
              std::string::npos)
        << missing.output;
}
#endif

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

// http_client's output: both replies, and a total of 2 s, not 3 (the two
// requests overlap).
void expect_timeit_pair(const result& r) {
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

TEST_P(Examples, HttpClient) {
    server s("http_server", GetParam());
    expect_timeit_pair(run_to_end({example("http_client"), "--port", std::to_string(s.port())}));
}

#ifdef WEFT_TLS_CERT_DIR
// HTTPS: curl trusting the test CA gets the same answers over TLS, with
// ALPN agreed on http/1.1 and keep-alive kept; a curl that trusts only the
// system's store is refused, and the server reports it and goes on.
TEST_P(Examples, HttpsServer) {
    SKIP_WITHOUT_TEST_CERTS();
    server s("http_server", GetParam(),
             {"--tls-cert", test_cert("localhost.pem"), "--tls-key", test_cert("localhost.key")});
    ASSERT_GT(s.port(), 0) << s.first_line();
    EXPECT_NE(s.first_line().find("http server listening on https://127.0.0.1:"), std::string::npos)
        << s.first_line();
    std::string base = "https://127.0.0.1:" + std::to_string(s.port());
    std::string ca = test_cert("ca.pem");

    result root = curl({"-v", "--cacert", ca, base + "/"});
    EXPECT_NE(root.output.find("{\"Hello\": \"World\"}"), std::string::npos) << root.output;
    EXPECT_NE(root.output.find("ALPN: server accepted http/1.1"), std::string::npos) << root.output;

    result three = curl({"--cacert", ca, "-w", " %{http_code} %{num_connects}\\n", base + "/",
                         base + "/timeit/0", base + "/nowhere"});
    EXPECT_EQ(three.output,
              "{\"Hello\": \"World\"} 200 1\n"
              "\"sleep seconds: 0\" 200 0\n"
              "{\"detail\":\"Not Found\"} 404 0\n");

    result untrusted = curl({"-w", "%{http_code}", base + "/"});
    EXPECT_EQ(WEXITSTATUS(untrusted.status), 60) << untrusted.output;  // peer certificate refused

    result plain = curl({"-w", "%{http_code}", s.url("/")});  // HTTP to an HTTPS port
    EXPECT_NE(WEXITSTATUS(plain.status), 0) << plain.output;

    result after = curl({"--cacert", ca, base + "/"});
    EXPECT_EQ(after.output, "{\"Hello\": \"World\"}");

    expect_stops_having_reported_a_refused_handshake(s);
}

// The two concurrent requests over TLS, verified against --cafile; without
// it the system's store does not know the test CA, and the client says so.
TEST_P(Examples, HttpsClient) {
    SKIP_WITHOUT_TEST_CERTS();
    server s("http_server", GetParam(),
             {"--tls-cert", test_cert("localhost.pem"), "--tls-key", test_cert("localhost.key")});
    ASSERT_GT(s.port(), 0) << s.first_line();
    result r =
        run_to_end({example("http_client"), "--port", std::to_string(s.port()), "--tls", "--cafile",
                    test_cert("ca.pem"), "--threads", std::to_string(GetParam())});
    expect_timeit_pair(r);

    result untrusted =
        run_to_end({example("http_client"), "--port", std::to_string(s.port()), "--tls"});
    EXPECT_EQ(WEXITSTATUS(untrusted.status), 1) << untrusted.output;
    EXPECT_NE(untrusted.output.find("http_client: weft::open_connection: certificate verify "
                                    "failed: unable to get local issuer certificate"),
              std::string::npos)
        << untrusted.output;

    // --cafile means nothing without --tls; --tls-cert needs --tls-key.
    result stray = run_to_end({example("http_client"), "--port", std::to_string(s.port()),
                               "--cafile", test_cert("ca.pem")});
    EXPECT_EQ(WEXITSTATUS(stray.status), 2) << stray.output;
    EXPECT_NE(stray.output.find("--cafile requires --tls"), std::string::npos) << stray.output;
    result half = run_to_end(
        {example("http_server"), "--port", "0", "--tls-cert", test_cert("localhost.pem")});
    EXPECT_EQ(WEXITSTATUS(half.status), 2) << half.output;
    EXPECT_NE(half.output.find("--tls-cert requires --tls-key"), std::string::npos) << half.output;
    std::string rest;
    EXPECT_TRUE(s.stop(rest)) << rest;
}
#endif

}  // namespace

namespace {

// ---- ordinary failures: one line naming the problem, exit status 1

// A listening socket on a free loopback port, holding it.
struct taken_port {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = 0;
    taken_port() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 1) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
            port = ntohs(a.sin_port);
        }
    }
    ~taken_port() { ::close(fd); }
};

// The program ended with status 1 after one line that starts with `start`
// and names `problem` (never an abort: status 134).
void expect_one_line_failure(const result& r, const std::string& start,
                             const std::string& problem) {
    EXPECT_TRUE(WIFEXITED(r.status)) << "killed by signal " << WTERMSIG(r.status) << ":\n"
                                     << r.output;
    EXPECT_EQ(WEXITSTATUS(r.status), 1) << r.output;
    EXPECT_EQ(r.output.rfind(start, 0), 0u) << r.output;
    EXPECT_NE(r.output.find(problem), std::string::npos) << r.output;
    ASSERT_FALSE(r.output.empty());
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "one line, got:\n" << r.output;
}

class ServerFailures : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Examples, ServerFailures, ::testing::Values("echo_server", "http_server"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(ServerFailures, PortInUse) {
    taken_port taken;
    ASSERT_GT(taken.port, 0);
    std::string port = std::to_string(taken.port);
    result r = run_to_end({example(GetParam()), "--threads", "1", "--port", port});
    expect_one_line_failure(r, GetParam() + ": cannot listen on 127.0.0.1:" + port + ": ",
                            "Address already in use");
    r = run_to_end({example(GetParam()), "--threads", "2", "--port", port});
    expect_one_line_failure(r, GetParam() + ": cannot listen on 127.0.0.1:" + port + ": ",
                            "Address already in use");
}

TEST_P(ServerFailures, HostThatDoesNotResolve) {
    // .invalid never resolves (RFC 6761).
    result r = run_to_end(
        {example(GetParam()), "--threads", "1", "--port", "0", "--host", "no-such-host.invalid"});
    expect_one_line_failure(r, GetParam() + ": cannot listen on no-such-host.invalid:0: ", "");
}

TEST_P(ServerFailures, HostThatIsNotLocal) {
    // 192.0.2.0/24 is TEST-NET-1, documentation only: never this machine's.
    result r =
        run_to_end({example(GetParam()), "--threads", "2", "--port", "0", "--host", "192.0.2.1"});
    expect_one_line_failure(
        r, GetParam() + ": cannot listen on 192.0.2.1:0: ", "Cannot assign requested address");
}

TEST(ExamplesFailures, ClientsNameTheProblem) {
    taken_port closed_port;  // bound, listening, then closed below: nobody there
    std::string port = std::to_string(closed_port.port);
    ::close(closed_port.fd);
    closed_port.fd = -1;
    result r = run_to_end({example("echo_client"), "--port", port});
    expect_one_line_failure(r, "echo_client: ", "Connection refused");
    r = run_to_end({example("echo_client"), "--host", "no-such-host.invalid"});
    expect_one_line_failure(r, "echo_client: ", "no-such-host.invalid");
    if (::access(example("http_client").c_str(), X_OK) == 0) {
        r = run_to_end({example("http_client"), "--port", port});
        expect_one_line_failure(r, "http_client: ", "Connection refused");
    }
}

TEST(ExamplesFailures, SubprocessDemoMissingCommand) {
    result r = run_to_end({example("subprocess_demo"), "--", "/nonexistent/command", "arg"});
    EXPECT_TRUE(WIFEXITED(r.status)) << r.output;
    EXPECT_EQ(WEXITSTATUS(r.status), 1) << r.output;
    // Its first line says what it runs; the second why it could not.
    EXPECT_EQ(r.output.rfind("running: /nonexistent/command arg\nsubprocess_demo: ", 0), 0u)
        << r.output;
    EXPECT_NE(r.output.find("No such file or directory"), std::string::npos) << r.output;
}

// ---- http_server refuses malformed requests with an error status, then
// closes the connection (RFC 9112 §3, §5.1)

std::string exchange(int port, const std::string& request, int& end) {
    connection c(port);
    std::string got;
    if (!c.ok()) {
        end = ECONNREFUSED;
        return got;
    }
    c.send(request);
    end = c.read_to_eof(got);
    return got;
}

TEST_P(Examples, HttpServerRefusesMalformedRequests) {
    server s("http_server", GetParam());
    ASSERT_GT(s.port(), 0) << s.first_line();
    struct bad {
        std::string request;
        std::string status;
    };
    const bad cases[] = {
        {"GET /\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"GET / HTTP/1.1\r\nHost: x\r\nX-Bad : 1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
         "HTTP/1.1 400 Bad Request\r\n"},
        {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: "
         "chunked\r\n\r\n0\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\n"},
        {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
        {"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(20000, 'a') + "\r\n\r\n",
         "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
    };
    for (const bad& b : cases) {
        int end = 0;
        std::string got = exchange(s.port(), b.request, end);
        EXPECT_EQ(got.rfind(b.status, 0), 0u) << b.request.substr(0, 80) << "\n-> " << got;
        EXPECT_NE(got.find("connection: close\r\n"), std::string::npos) << got;
        EXPECT_EQ(end, 0) << "the connection should end with a FIN, got " << read_status(end)
                          << " after " << b.request.substr(0, 80);
    }
    // A valid request before a malformed one on the same connection is
    // answered; the malformed one ends the connection.
    int end = 0;
    std::string got = exchange(
        s.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        end);
    EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
    EXPECT_NE(got.find("\r\n\r\n{\"Hello\": \"World\"}HTTP/1.1 400 Bad Request\r\n"),
              std::string::npos)
        << got;
    EXPECT_EQ(got.find("200 OK", 10), std::string::npos) << got;
    EXPECT_EQ(end, 0) << read_status(end);
    // Pipelined valid requests, a chunked body among them, are all answered.
    got = exchange(s.port(),
                   "GET /timeit/0 HTTP/1.1\r\nHost: x\r\n\r\n"
                   "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n0\r\n\r\n"
                   "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                   end);
    EXPECT_NE(got.find("\"sleep seconds: 0\"HTTP/1.1 405 Method Not Allowed\r\n"),
              std::string::npos)
        << got;
    EXPECT_NE(got.find("{\"detail\":\"Method Not Allowed\"}HTTP/1.1 200 OK\r\n"), std::string::npos)
        << got;
    EXPECT_EQ(end, 0) << read_status(end);

    std::string rest;
    EXPECT_TRUE(s.stop(rest)) << rest;
}

// ---- graceful shutdown (server::shutdown)

// 100 connections, each in the middle of a 1 s request when SIGTERM comes,
// and 10 idle keep-alive ones: every request is answered in full, then
// every connection ends with a FIN, never a reset, and the server exits 0.
TEST_P(Examples, HttpServerShutsDownGracefully) {
    server s("http_server", GetParam(), {"--grace-period", "10"});
    ASSERT_GT(s.port(), 0) << s.first_line();
    constexpr int busy = 100, idle = 10;
    std::vector<std::unique_ptr<connection>> conns;
    const std::string root = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string root_reply = "{\"Hello\": \"World\"}";
    for (int i = 0; i < busy + idle; ++i) {
        auto c = std::make_unique<connection>(s.port());
        ASSERT_TRUE(c->ok()) << "connection " << i;
        // One quick request first: the server has accepted the connection.
        ASSERT_TRUE(c->send(root));
        std::string got;
        ASSERT_EQ(c->read(got, root_reply), -2) << "connection " << i << ": " << got;
        conns.push_back(std::move(c));
    }
    for (int i = 0; i < busy; ++i)
        ASSERT_TRUE(
            conns[static_cast<std::size_t>(i)]->send("GET /timeit/1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto t0 = clock_type::now();
    s.signal(SIGTERM);
    int resets = 0, incomplete = 0;
    const std::string body = "\"sleep seconds: 1\"";
    for (int i = 0; i < busy + idle; ++i) {
        std::string got;
        int end = conns[static_cast<std::size_t>(i)]->read_to_eof(got, 15);
        if (end == ECONNRESET) ++resets;
        EXPECT_EQ(end, 0) << "connection " << i << ": " << read_status(end) << " after '" << got
                          << "'";
        if (i < busy) {
            bool complete = got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 &&
                            got.find("connection: close\r\n") != std::string::npos &&
                            got.size() > body.size() &&
                            got.compare(got.size() - body.size(), body.size(), body) == 0;
            if (!complete) ++incomplete;
            EXPECT_TRUE(complete) << "connection " << i << " got '" << got << "'";
        } else {
            EXPECT_EQ(got, "") << "idle connection " << i;
        }
        conns[static_cast<std::size_t>(i)]->close();
    }
    EXPECT_EQ(resets, 0);
    EXPECT_EQ(incomplete, 0);
    std::string rest;
    int status = s.finish(rest);
    double took = std::chrono::duration<double>(clock_type::now() - t0).count();
    EXPECT_TRUE(exited_ok(status)) << rest;
    EXPECT_EQ(rest, "server closed\n");
    EXPECT_LT(took, 8.0) << "the server should exit once its connections are done";
}

// A connection still busy when the grace period ends is aborted, and the
// server exits soon after instead of waiting for it.
TEST_P(Examples, HttpServerAbortsAfterTheGracePeriod) {
    server s("http_server", GetParam(), {"--grace-period", "1"});
    ASSERT_GT(s.port(), 0) << s.first_line();
    connection slow(s.port());
    ASSERT_TRUE(slow.ok());
    ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string got;
    ASSERT_EQ(slow.read(got, "{\"Hello\": \"World\"}"), -2) << got;
    ASSERT_TRUE(slow.send("GET /timeit/30 HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto t0 = clock_type::now();
    s.signal(SIGTERM);
    std::string rest;
    int status = s.finish(rest, 20);
    double took = std::chrono::duration<double>(clock_type::now() - t0).count();
    EXPECT_TRUE(exited_ok(status)) << rest;
    EXPECT_EQ(rest, "grace period over: 1 connections aborted\nserver closed\n");
    EXPECT_GE(took, 0.9);
    EXPECT_LT(took, 5.0) << "the server should exit soon after the grace period";
    got.clear();
    int end = slow.read_to_eof(got, 5);
    EXPECT_TRUE(end == 0 || end == ECONNRESET) << read_status(end);
    EXPECT_EQ(got, "") << "the aborted request has no response";
}

// Echo clients connected when SIGTERM comes see the end of the stream (a
// FIN), not a reset, even one that sent bytes the server never read.
TEST_P(Examples, EchoServerShutsDownGracefully) {
    server s("echo_server", GetParam(), {"--grace-period", "5"});
    ASSERT_GT(s.port(), 0) << s.first_line();
    std::vector<std::unique_ptr<connection>> conns;
    for (int i = 0; i < 20; ++i) {
        auto c = std::make_unique<connection>(s.port());
        ASSERT_TRUE(c->ok());
        ASSERT_TRUE(c->send("hello\n"));
        std::string got;
        ASSERT_EQ(c->read(got, "hello\n"), -2) << got;
        conns.push_back(std::move(c));
    }
    auto t0 = clock_type::now();
    s.signal(SIGTERM);
    for (auto& c : conns) {
        std::string got;
        int end = c->read_to_eof(got, 10);
        EXPECT_EQ(end, 0) << read_status(end);
        // A client still sending after the server's FIN: the server reads
        // and drops it until this side closes, so the close is no reset.
        c->send(std::string(10000, 'x'));
        c->close();
    }
    std::string rest;
    int status = s.finish(rest);
    EXPECT_TRUE(exited_ok(status)) << rest;
    EXPECT_EQ(rest, "server closed\n");
    EXPECT_LT(std::chrono::duration<double>(clock_type::now() - t0).count(), 5.0);
}

}  // namespace

// A file descriptor that weft did not open, watched with add_reader (asyncio's
// loop.add_reader): a plain thread writes three lines into a pipe, 0.1 s
// apart, and closes it; weft calls back whenever the pipe is readable. This
// is how a library with its own sockets (libpq, libcurl's multi interface,
// c-ares) runs on weft's loop.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

weft::task<void> main_task() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    int in = fds[0], out = fds[1];

    // The other library: a thread that knows nothing of weft.
    std::thread producer([out] {
        for (const char* line : {"one\n", "two\n", "three\n"}) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            ssize_t n = ::write(out, line, std::char_traits<char>::length(line));
            (void)n;
        }
        ::close(out);
    });

    weft::event_loop& loop = weft::get_running_loop();
    weft::future<void> finished;
    std::string pending;
    loop.add_reader(in, [&, finished]() mutable {
        char buf[256];
        ssize_t n = ::read(in, buf, sizeof buf);
        if (n > 0) {
            pending.append(buf, static_cast<std::size_t>(n));
            for (std::size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
                std::printf("read: %s\n", pending.substr(0, eol).c_str());
                pending.erase(0, eol + 1);
            }
        } else if (n == 0) {  // the writer closed its end
            std::printf("end of pipe, remove_reader: %s\n",
                        loop.remove_reader(in) ? "true" : "false");
            finished.set_result();
        }
        // n < 0: EAGAIN, nothing to read after all; called again when there is.
    });
    co_await finished;
    producer.join();
    ::close(in);
}

int main(int argc, char** argv) {
    CLI::App app{"add_reader: a pipe written by a plain thread, watched by weft"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}

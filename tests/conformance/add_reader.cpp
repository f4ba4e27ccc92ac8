// Port of add_reader.py: add_reader's callback runs in the iteration after
// data arrived, behind the callbacks queued before that iteration's poll; a
// second add_reader replaces the callback; add_writer fires at once on a
// writable socket; remove_writer/remove_reader return true once, then false;
// once removed, nothing more is called.
#include <string>

#include <sys/socket.h>
#include <unistd.h>

#include "scenario.hpp"

using scenario::py;

weft::task<void> main_task() {
    weft::event_loop& loop = weft::get_running_loop();
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        throw std::runtime_error("socketpair");
    }
    int a = fds[0], b = fds[1];
    weft::future<void> done;

    loop.add_reader(b, [] { std::printf("first reader called\n"); });  // replaced below
    loop.add_reader(b, [&, done]() mutable {
        char buf[100];
        ssize_t n = ::recv(b, buf, sizeof buf, 0);
        std::string data(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
        std::printf("read %s\n", data.c_str());
        if (data == "three") done.set_result();
    });

    weft::future<void> wrote;
    loop.add_writer(a, [&, wrote]() mutable {
        std::printf("writable\n");
        std::printf("remove_writer %s\n", py(loop.remove_writer(a)));
        wrote.set_result();
    });
    co_await wrote;
    std::printf("remove_writer again %s\n", py(loop.remove_writer(a)));

    for (std::string word : {"one", "two", "three"}) {
        co_await weft::sleep(0.1);
        ::send(a, word.data(), word.size(), MSG_NOSIGNAL);
        loop.call_soon([word] { std::printf("soon after %s\n", word.c_str()); });
        std::printf("sent %s\n", word.c_str());
    }
    co_await done;
    std::printf("remove_reader %s\n", py(loop.remove_reader(b)));
    std::printf("remove_reader again %s\n", py(loop.remove_reader(b)));
    ::send(a, "ignored", 7, MSG_NOSIGNAL);
    co_await weft::sleep(0.1);
    std::printf("end\n");
    ::close(a);
    ::close(b);
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}

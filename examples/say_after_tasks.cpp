// Two tasks wait side by side: saying "hello" after 1 s and "world" after
// 2 s takes about 2 s in all, not 3 as awaiting one after the other would.
// The C++ twin of the create_task example of the asyncio docs.
#include <cstdio>
#include <ctime>
#include <string>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

// time.strftime('%X'): the wall-clock time as HH:MM:SS.
std::string now() {
    std::time_t t = std::time(nullptr);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
    return buf;
}

// `what` is taken by value: the task runs after the caller's statement has
// ended, when a reference to its temporary string would dangle.
weft::task<void> say_after(double delay, std::string what) {
    co_await weft::sleep(delay);
    std::printf("%s\n", what.c_str());
}

weft::task<void> main_task() {
    auto task1 = weft::create_task(say_after(1, "hello"));
    auto task2 = weft::create_task(say_after(2, "world"));

    std::printf("started at %s\n", now().c_str());

    // Wait until both tasks are completed (should take around 2 seconds):
    // both started sleeping at the first co_await, so the waits overlap.
    co_await task1;
    co_await task2;

    std::printf("finished at %s\n", now().c_str());
}

int main(int argc, char** argv) {
    CLI::App app{"say_after with create_task: two sleeps that overlap"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}

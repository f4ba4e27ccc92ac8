// The say_after example with a task_group (asyncio.TaskGroup): run() returns
// only when every task started in the group has finished, ~2 s here.
// The C++ twin of the TaskGroup example of the asyncio docs.
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
    // The body plays the part of Python's `async with asyncio.TaskGroup() as
    // tg:` block. Capturing by reference is safe here because the lambda
    // lives until the end of this statement, after the body has run (see
    // docs/footguns.md).
    weft::task_group tg;
    co_await tg.run([&]() -> weft::task<void> {
        tg.create_task(say_after(1, "hello"));
        tg.create_task(say_after(2, "world"));
        std::printf("started at %s\n", now().c_str());
        co_return;
    }());

    // The await is implicit when run() ends: both tasks are done here.
    std::printf("finished at %s\n", now().c_str());
}

int main(int argc, char** argv) {
    CLI::App app{"say_after with a task_group"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    weft::cli::parse(app, argc, argv);
    weft::run(main_task(), {.threads = threads});
}

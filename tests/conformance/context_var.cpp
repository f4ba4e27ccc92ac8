// Port of context_var.py: contextvars and tasks (a task gets a copy of its
// creator's context at create_task; its sets stay in it), get's default and
// lookup_error, reset with tokens and their misuse, call_soon's context, and
// copy_context().run. (ValueError is std::invalid_argument here, RuntimeError
// weft::invalid_state_error.)
#include <stdexcept>
#include <string>

#include "scenario.hpp"

weft::context_var<std::string> request_id("request_id");
weft::context_var<int> depth("depth", 0);
// Python's depth.reset(<request_id's token>) has no C++ spelling (the token's
// type names its variable's type): a variable of the same type stands in.
weft::context_var<std::string> stand_in("stand_in");

weft::task<int> child(std::string name) {
    std::printf("%s sees %s %d\n", name.c_str(), request_id.get().c_str(), depth.get());
    (void)depth.set(depth.get() + 1);
    co_await weft::sleep(0.1);
    std::printf("%s after sleep %s %d\n", name.c_str(), request_id.get().c_str(), depth.get());
    if (depth.get() < 2) {
        auto t = weft::create_task(child(name + ".1"));
        int r = co_await t;
        std::printf("%s child returned %d\n", name.c_str(), r);
    }
    co_return depth.get();
}

weft::task<void> use_token(weft::context_var<std::string>::token& token) {
    try {
        request_id.reset(token);
    } catch (const std::invalid_argument&) {
        std::printf("reset in another context: ValueError\n");
    }
    co_return;
}

weft::task<void> main_task() {
    try {
        (void)request_id.get();
    } catch (const weft::lookup_error&) {
        std::printf("unset: LookupError\n");
    }
    std::printf("defaults: %s %d\n", request_id.get("none").c_str(), depth.get());

    auto token = request_id.set("req-1");
    auto t = weft::create_task(child("c1"));
    (void)request_id.set("req-2");
    int r = co_await t;
    std::printf("main sees %s %d c1 returned %d\n", request_id.get().c_str(), depth.get(), r);

    co_await weft::create_task(use_token(token));
    try {
        stand_in.reset(token);
    } catch (const std::invalid_argument&) {
        std::printf("reset with another variable's token: ValueError\n");
    }
    request_id.reset(token);
    std::printf("after reset: %s\n", request_id.get("unset").c_str());
    try {
        request_id.reset(token);
    } catch (const weft::invalid_state_error&) {
        std::printf("token used twice: RuntimeError\n");
    }

    weft::event_loop& loop = weft::get_running_loop();
    weft::future<void> done;
    (void)request_id.set("req-3");
    loop.call_soon([&done] {
        std::printf("callback sees %s\n", request_id.get("unset").c_str());
        (void)request_id.set("from-callback");
        done.set_result();
    });
    (void)request_id.set("req-4");
    co_await done;
    std::printf("main sees %s\n", request_id.get().c_str());

    weft::context ctx = weft::copy_context();
    auto in_ctx = [](const std::string& suffix) {
        (void)request_id.set(request_id.get() + suffix);
        return request_id.get();
    };
    std::string ran = ctx.run(in_ctx, "-ctx");
    std::printf("ctx.run: %s outside: %s\n", ran.c_str(), request_id.get().c_str());
    std::string kept = ctx.value_of(request_id).value();
    std::printf("ctx keeps: %s %s\n", kept.c_str(), ctx.run(in_ctx, "-again").c_str());
}

int main() {
    scenario::line_buffered();
    weft::run(main_task());
}

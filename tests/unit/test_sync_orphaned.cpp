// A primitive destroyed while a task waits on it: the waiter wakes with a
// std::logic_error naming the call it was in, never a hang or a crash
// (detail::list_waiter, shared by every primitive's awaiter).
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <weft/weft.hpp>

namespace {

// Starts `wait(p)` in a task, lets it block, destroys the primitive and
// expects the task to fail naming `what`.
template <class Primitive, class Wait>
weft::task<void> destroy_under_waiter(std::unique_ptr<Primitive> p, Wait wait, std::string what) {
    auto t = weft::create_task(wait(p.get()));
    co_await weft::sleep(0.001);
    EXPECT_FALSE(t.done()) << what << " must block";
    p.reset();
    try {
        co_await t;
        ADD_FAILURE() << what << ": the waiter must fail";
    } catch (const std::logic_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  what + ": the object was destroyed while a task was waiting on it");
    }
}

TEST(Orphaned, ALockDestroyedUnderAWaiterRaisesInIt) {
    weft::run([]() -> weft::task<void> {
        auto l = std::make_unique<weft::lock>();
        co_await l->acquire();
        co_await destroy_under_waiter(
            std::move(l), [](weft::lock* p) -> weft::task<void> { co_await p->acquire(); },
            "weft::lock::acquire");
    }());
}

TEST(Orphaned, ASemaphoreDestroyedUnderAWaiterRaisesInIt) {
    weft::run(destroy_under_waiter(
        std::make_unique<weft::semaphore>(0),
        [](weft::semaphore* p) -> weft::task<void> { co_await p->acquire(); },
        "weft::semaphore::acquire"));
}

TEST(Orphaned, AnEventDestroyedUnderAWaiterRaisesInIt) {
    weft::run(destroy_under_waiter(
        std::make_unique<weft::event>(),
        [](weft::event* p) -> weft::task<void> { co_await p->wait(); }, "weft::event::wait"));
}

TEST(Orphaned, AConditionDestroyedUnderAWaiterRaisesInIt) {
    weft::run(destroy_under_waiter(
        std::make_unique<weft::condition>(),
        [](weft::condition* p) -> weft::task<void> {
            co_await p->acquire();
            co_await p->wait();  // releases the lock while it waits
        },
        "weft::condition::wait"));
}

TEST(Orphaned, InGoModeTooTheWaiterRaisesRatherThanHangs) {
    weft::run(
        []() -> weft::task<void> {
            co_await destroy_under_waiter(
                std::make_unique<weft::event>(),
                [](weft::event* p) -> weft::task<void> { co_await p->wait(); },
                "weft::event::wait");
        }(),
        {.threads = 2});
}

}  // namespace

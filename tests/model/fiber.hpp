// Model threads are fibers: each has a stack of its own, and one OS thread
// (the test's) switches between them at scheduling points. Only one model
// thread runs at a time anyway; switching in user space costs nanoseconds,
// where handing a baton between OS threads costs a futex wake and a sleep,
// and a check makes millions of switches. The switch saves what the x86-64
// calling convention says a callee keeps (rbx, rbp, r12-r15, the stack
// pointer, the SSE and x87 control words); ucontext's swapcontext would
// also save the signal mask, a system call each time.
//
// Under AddressSanitizer every switch is announced to it, so that it knows
// which stack is live.
#pragma once

#include <cstddef>
#include <vector>

namespace weft::model {

// Where a suspended fiber, or the thread that runs the fibers, resumes.
struct fiber_context {
    void* stack_pointer = nullptr;       // its saved registers are on top of it
    const void* stack_bottom = nullptr;  // for AddressSanitizer
    std::size_t stack_size = 0;
};

// Saves `from` and resumes `to`; returns when something resumes `from`.
void switch_fiber(fiber_context& from, fiber_context& to);
// Resumes `to` from a fiber that is done and never resumes.
[[noreturn]] void leave_fiber(fiber_context& to);
// First thing in a fiber's entry function (AddressSanitizer's bookkeeping);
// sets `from`'s stack if it has none yet.
void enter_fiber(fiber_context& from);

// Stacks, kept from one execution to the next: slot i is model thread i's.
class fiber_stacks {
public:
    fiber_stacks() = default;
    ~fiber_stacks();
    fiber_stacks(const fiber_stacks&) = delete;
    fiber_stacks& operator=(const fiber_stacks&) = delete;

    // Makes `ctx` run `entry`, which must never return, from the top of
    // stack `slot` the first time it is switched to.
    void prepare(unsigned slot, fiber_context& ctx, void (*entry)());

private:
    struct stack {
        void* base;        // the mapping, a guard page first
        std::size_t size;  // the mapping's size
    };
    std::vector<stack> stacks_;
};

}  // namespace weft::model

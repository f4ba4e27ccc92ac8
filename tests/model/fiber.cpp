#include "fiber.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "the model checker's fibers switch x86-64 registers"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_MODEL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_MODEL_ASAN 1
#endif
#endif

#ifdef WEFT_MODEL_ASAN
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom,
                                               std::size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                std::size_t* size_old);
#endif

// weft_model_switch(from, to): pushes the callee-saved registers and the
// control words on the current stack, stores the stack pointer in *from,
// takes `to` as the stack pointer and pops the same from it; `ret` then
// goes wherever that stack was switched away from (or, for a new fiber, to
// weft_model_fiber_start). weft_model_fiber_start calls the entry function
// prepare() left in r12, on a stack aligned as a call needs.
extern "C" void weft_model_switch(void** from, void* to);
extern "C" void weft_model_fiber_start();
asm(R"(
    .text
    .globl weft_model_switch
    .type weft_model_switch, @function
weft_model_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size weft_model_switch, .-weft_model_switch

    .globl weft_model_fiber_start
    .type weft_model_fiber_start, @function
weft_model_fiber_start:
    andq $-16, %rsp
    callq *%r12
    ud2
    .size weft_model_fiber_start, .-weft_model_fiber_start
)");

namespace weft::model {

namespace {

// Deep enough for the code under test and the checker's calls below it,
// sanitizers' larger frames included.
constexpr std::size_t stack_bytes = 1 << 20;

}  // namespace

void switch_fiber(fiber_context& from, fiber_context& to) {
#ifdef WEFT_MODEL_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, to.stack_bottom, to.stack_size);
    weft_model_switch(&from.stack_pointer, to.stack_pointer);
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
    weft_model_switch(&from.stack_pointer, to.stack_pointer);
#endif
}

void leave_fiber(fiber_context& to) {
#ifdef WEFT_MODEL_ASAN
    __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
    // This fiber's registers, never resumed, go to a scratch word: not one
    // on this stack, which AddressSanitizer may have just retired.
    static thread_local void* abandoned = nullptr;
    weft_model_switch(&abandoned, to.stack_pointer);
    std::abort();
}

void enter_fiber([[maybe_unused]] fiber_context& from) {
#ifdef WEFT_MODEL_ASAN
    const void* bottom = nullptr;
    std::size_t size = 0;
    __sanitizer_finish_switch_fiber(nullptr, &bottom, &size);
    if (from.stack_bottom == nullptr) {
        from.stack_bottom = bottom;
        from.stack_size = size;
    }
#endif
}

fiber_stacks::~fiber_stacks() {
    for (stack& s : stacks_)
        munmap(s.base, s.size);
}

void fiber_stacks::prepare(unsigned slot, fiber_context& ctx, void (*entry)()) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    while (stacks_.size() <= slot) {
        std::size_t size = stack_bytes + page;
        void* base =
            mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) {
            std::perror("model: mmap of a fiber stack");
            std::abort();
        }
        mprotect(base, page, PROT_NONE);  // an overflow faults instead of corrupting
        stacks_.push_back(stack{base, size});
    }
    char* bottom = static_cast<char*>(stacks_[slot].base) + page;
    auto* top = reinterpret_cast<std::uint64_t*>(bottom + stack_bytes);
    // What weft_model_switch pops, from the top down: a return address
    // (weft_model_fiber_start), rbp, rbx, r12 (the entry), r13, r14, r15,
    // and the control words, as this thread has them now.
    std::uint64_t* sp = top - 2;  // two spare slots above, never read
    *--sp = reinterpret_cast<std::uint64_t>(&weft_model_fiber_start);
    *--sp = 0;                                       // rbp
    *--sp = 0;                                       // rbx
    *--sp = reinterpret_cast<std::uint64_t>(entry);  // r12
    *--sp = 0;                                       // r13
    *--sp = 0;                                       // r14
    *--sp = 0;                                       // r15
    std::uint32_t mxcsr = 0;
    std::uint16_t fpu_control = 0;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpu_control));
    *--sp = mxcsr | (static_cast<std::uint64_t>(fpu_control) << 32);
    ctx.stack_pointer = sp;
    ctx.stack_bottom = bottom;
    ctx.stack_size = stack_bytes;
}

}  // namespace weft::model

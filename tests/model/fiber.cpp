#include "fiber.hpp"

#include <cstdio>
#include <cstdlib>

#include <sys/mman.h>
#include <unistd.h>

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
    swapcontext(&from.registers, &to.registers);
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
    swapcontext(&from.registers, &to.registers);
#endif
}

void leave_fiber(fiber_context& to) {
#ifdef WEFT_MODEL_ASAN
    __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
    setcontext(&to.registers);
    std::abort();  // setcontext returns only if it failed
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
    getcontext(&ctx.registers);
    ctx.registers.uc_stack.ss_sp = bottom;
    ctx.registers.uc_stack.ss_size = stack_bytes;
    ctx.registers.uc_link = nullptr;  // the entry never returns
    makecontext(&ctx.registers, entry, 0);
    ctx.stack_bottom = bottom;
    ctx.stack_size = stack_bytes;
}

}  // namespace weft::model

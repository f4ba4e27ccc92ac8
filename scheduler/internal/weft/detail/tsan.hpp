// ThreadSanitizer annotations. oneTBB's concurrent_queue (the thread pool's
// job queue) synchronises through atomic_thread_fence, which TSan does not
// model, so it cannot see that whatever a producer wrote before enqueueing an
// item happens before the consumer's use of it. We tell it so, item by item:
// a release on the item's address before enqueueing, an acquire after
// dequeueing. No-ops otherwise.
//
// The same goes for epoll_pwait2, which this TSan does not intercept (it
// does epoll_wait): the poller releases a target's address when it
// registers it and acquires it when an event hands it back.
#pragma once

#include <cstdint>

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#ifdef WEFT_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace weft::detail {

inline void tsan_release_item(std::uintptr_t item) noexcept {
#ifdef WEFT_TSAN
    __tsan_release(reinterpret_cast<void*>(item & ~std::uintptr_t{1}));
#else
    (void)item;
#endif
}

inline void tsan_acquire_item(std::uintptr_t item) noexcept {
#ifdef WEFT_TSAN
    __tsan_acquire(reinterpret_cast<void*>(item & ~std::uintptr_t{1}));
#else
    (void)item;
#endif
}

inline void tsan_release_object(const void* p) noexcept {
    tsan_release_item(reinterpret_cast<std::uintptr_t>(p));
}

inline void tsan_acquire_object(const void* p) noexcept {
    tsan_acquire_item(reinterpret_cast<std::uintptr_t>(p));
}

}  // namespace weft::detail

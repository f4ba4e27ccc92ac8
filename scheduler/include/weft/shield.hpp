// shield(): await something without letting a cancellation reach it
// (asyncio.shield).
//
//     int v = co_await weft::shield(inner);   // cancelling us leaves `inner` running
//
// Returns a new future that follows `inner`. Cancelling that future (which is
// what cancelling the awaiting task does) cancels only it; `inner` runs on
// and can still be awaited for its result.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include <weft/detail/awaitable_traits.hpp>
#include <weft/future.hpp>

namespace weft {

template <class A>
future<typename detail::traits_of<A>::value_type> shield(A&& aw) {
    using T = typename detail::traits_of<A>::value_type;
    using H = typename detail::traits_of<A>::handle_type;
    H inner = detail::ensure_future(std::forward<A>(aw));
    future<T> outer(get_running_loop());

    struct inner_done {
        future<T> outer;
        void operator()(H& in) {
            if (outer.cancelled()) {
                if (!in.cancelled()) (void)in.exception();  // mark it retrieved
                return;
            }
            // try_: in Go mode the outer may be cancelled meanwhile.
            if (in.cancelled()) {
                outer.cancel();
            } else if (std::exception_ptr e = in.exception()) {
                outer.try_set_exception(e);
            } else if constexpr (std::is_void_v<T>) {
                outer.try_set_result();
            } else {
                outer.try_set_result(in.result());
            }
        }
        bool operator==(const inner_done& o) const noexcept {
            return outer.core() == o.outer.core();
        }
    };
    struct outer_done {
        H inner;
        void operator()(future<T>& o) {
            if (!inner.done()) inner.remove_done_callback(inner_done{o});
        }
    };
    if (inner.done()) {
        // asyncio returns the inner future itself; a finished one is copied.
        inner_done{outer}(inner);
        return outer;
    }
    inner.add_done_callback(inner_done{outer});
    outer.add_done_callback(outer_done{inner});
    return outer;
}

}  // namespace weft

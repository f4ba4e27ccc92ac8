// What executor.map(fn, inputs...) returns: the jobs, submitted at once, and
// their results in input order, for a plain thread (iterate, or get()) or a
// task (co_await).
//
//     for (int r : pool.map(square, std::vector{1, 2, 3})) ...     // blocks per item
//     std::vector<int> all = co_await pool.map(square, inputs);    // suspends
//
// As with Python's Executor.map, the first failure is rethrown where its turn
// comes, and the jobs after it that have not started are cancelled.
#pragma once

#include <cstddef>
#include <iterator>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include <weft/detail/awaitable_traits.hpp>
#include <weft/executors/executor_future.hpp>
#include <weft/task.hpp>

namespace weft {

template <class T>
class map_result {
public:
    // void results are std::monostate, as in gather.
    using value_type = detail::stored_t<T>;

    explicit map_result(std::vector<executor_future<T>> futures) noexcept
        : futures_(std::move(futures)) {}

    std::size_t size() const noexcept { return futures_.size(); }
    std::vector<executor_future<T>>& futures() noexcept { return futures_; }

    // Waits for every result, in order (plain threads).
    std::vector<value_type> get() {
        std::vector<value_type> out;
        out.reserve(futures_.size());
        for (std::size_t i = 0; i < futures_.size(); ++i) {
            try {
                out.push_back(take(futures_[i]));
            } catch (...) {
                cancel_from(i + 1);
                throw;
            }
        }
        return out;
    }

    // Python's result iterator: each step waits for the next result.
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = map_result::value_type;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = value_type;

        iterator() noexcept = default;
        iterator(map_result* owner, std::size_t i) noexcept : owner_(owner), i_(i) {}
        value_type operator*() const {
            try {
                return take(owner_->futures_[i_]);
            } catch (...) {
                owner_->cancel_from(i_ + 1);
                throw;
            }
        }
        iterator& operator++() noexcept {
            ++i_;
            return *this;
        }
        void operator++(int) noexcept { ++i_; }
        bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

    private:
        map_result* owner_ = nullptr;
        std::size_t i_ = 0;
    };
    iterator begin() noexcept { return iterator(this, 0); }
    iterator end() noexcept { return iterator(this, futures_.size()); }

    // co_await: every result in order, without blocking the loop. Cancelling
    // the awaiting task cancels the jobs, as with each executor future.
    struct awaiter {
        task<std::vector<value_type>> body;
        typename task<std::vector<value_type>>::awaiter inner;
        bool await_ready() const noexcept { return false; }
        auto await_suspend(std::coroutine_handle<> h) noexcept { return inner.await_suspend(h); }
        std::vector<value_type> await_resume() { return inner.await_resume(); }
    };
    awaiter operator co_await() && {
        auto body = collect(std::move(futures_));
        auto inner = std::move(body).operator co_await();
        return awaiter{std::move(body), inner};
    }

private:
    static value_type take(executor_future<T>& f) {
        if constexpr (std::is_void_v<T>) {
            f.get();
            return {};
        } else {
            return f.get();
        }
    }
    void cancel_from(std::size_t i) noexcept {
        for (; i < futures_.size(); ++i)
            futures_[i].cancel();
    }
    static task<std::vector<value_type>> collect(std::vector<executor_future<T>> fs) {
        std::vector<value_type> out;
        out.reserve(fs.size());
        std::size_t i = 0;
        try {
            for (; i < fs.size(); ++i) {
                if constexpr (std::is_void_v<T>) {
                    co_await std::move(fs[i]);
                    out.emplace_back();
                } else {
                    out.push_back(co_await std::move(fs[i]));
                }
            }
        } catch (...) {
            for (std::size_t j = i + 1; j < fs.size(); ++j)
                fs[j].cancel();
            throw;
        }
        co_return out;
    }

    std::vector<executor_future<T>> futures_;
};

namespace detail {

// Executor.map's loop, one for every executor: submit_one(a, b, ...) for each
// tuple of items of the ranges, in order, stopping at the shortest; every
// call is submitted before any result is awaited.
template <class T, class Submit, class R1, class... Rs>
map_result<T> map_calls(Submit&& submit_one, R1&& first, Rs&&... rest) {
    std::vector<executor_future<T>> fs;
    auto it1 = std::begin(first);
    auto end1 = std::end(first);
    auto its = std::make_tuple(std::begin(rest)...);
    auto ends = std::make_tuple(std::end(rest)...);
    auto any_at_end = [&]<std::size_t... I>(std::index_sequence<I...>) {
        return it1 == end1 || ((std::get<I>(its) == std::get<I>(ends)) || ...);
    };
    constexpr auto idx = std::index_sequence_for<Rs...>{};
    while (!any_at_end(idx)) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            fs.push_back(submit_one(*it1, *std::get<I>(its)...));
            ++it1;
            (++std::get<I>(its), ...);
        }
        (idx);
    }
    return map_result<T>(std::move(fs));
}

}  // namespace detail

}  // namespace weft

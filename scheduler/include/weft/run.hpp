// Entry points: weft::run (asyncio.run) and weft::runner (asyncio.Runner).
//
//     weft::task<int> main_task() { ...; co_return 0; }
//     int main() { return weft::run(main_task()); }
//
// run() creates a loop, runs the task to completion, then cancels whatever
// tasks are still pending and waits for their cleanup, and closes the loop.
// It returns the task's result or rethrows its exception.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include <weft/event_loop.hpp>
#include <weft/task.hpp>
#include <weft/task_handle.hpp>

namespace weft {

struct run_options {
    // Worker threads. 1 runs asyncio's model on the calling thread. 0 means
    // "not given": the WEFT_THREADS environment variable decides, else 1.
    int threads = 0;
    // asyncio's debug mode: slow steps are reported, with the task's name.
    bool debug = false;
};

// The thread count `options` asks for, after WEFT_THREADS; raises
// std::invalid_argument naming the bad value.
int resolve_threads(const run_options& options);

class runner {
  public:
    explicit runner(run_options options = {});
    ~runner();
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;

    // Runs `main` on this runner's loop until it completes.
    template <class T>
    T run(task<T> main) {
        prepare_run();
        return loop_->run_until_complete(loop_->create_task(std::move(main)));
    }

    // Cancels the tasks that are still pending, runs the loop until their
    // cleanup is done, and closes the loop. Called by the destructor.
    void close();

    event_loop& get_loop() { return *loop_; }
    int threads() const noexcept { return threads_; }

  private:
    void prepare_run();
    void cancel_all_tasks();

    std::unique_ptr<event_loop> loop_;
    int threads_ = 1;
    bool closed_ = false;
};

template <class T>
T run(task<T> main, run_options options = {}) {
    runner r(options);
    if constexpr (std::is_void_v<T>) {
        r.run(std::move(main));
        r.close();
    } else {
        T result = r.run(std::move(main));
        r.close();
        return result;
    }
}

}  // namespace weft

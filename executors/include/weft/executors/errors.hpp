// The errors the executors raise, beyond the scheduler's (cancelled_error,
// timeout_error, invalid_state_error).
#pragma once

#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>

#include <sys/types.h>

namespace weft {

// Work submitted to an executor after shutdown() (concurrent.futures raises
// RuntimeError: cannot schedule new futures after shutdown).
class executor_shutdown_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The worker process running a call died before answering: it crashed
// (segfault, abort), called _exit, or was killed from outside. Only that
// call fails; the pool starts a fresh worker in its place. (Python's pool
// breaks as a whole instead: BrokenProcessPool.)
class worker_died_error : public std::runtime_error {
public:
    worker_died_error(const std::string& what, pid_t pid, int signal, int exit_code)
        : std::runtime_error(what), pid_(pid), signal_(signal), exit_code_(exit_code) {}
    pid_t pid() const noexcept { return pid_; }
    // The signal that killed the worker, or 0 if it exited.
    int signal() const noexcept { return signal_; }
    // Its exit status, or -1 if a signal killed it.
    int exit_code() const noexcept { return exit_code_; }

private:
    pid_t pid_;
    int signal_;
    int exit_code_;
};

// An exception thrown by a function in a worker process whose type this
// process does not know how to rebuild (see register_remote_exception):
// what() is "<type>: <message>".
class remote_error : public std::runtime_error {
public:
    remote_error(std::string type_name, std::string message)
        : std::runtime_error(type_name + ": " + message),
          type_name_(std::move(type_name)),
          message_(std::move(message)) {}
    const std::string& type_name() const noexcept { return type_name_; }
    const std::string& message() const noexcept { return message_; }

private:
    std::string type_name_;
    std::string message_;
};

namespace detail {
void register_remote_exception(const std::type_info& type,
                               std::exception_ptr (*make)(const std::string& message));
}

// Lets exceptions of type E thrown in a worker process be rethrown as E (with
// their message) in the pool's process: E must be constructible from a
// std::string. The standard exceptions that are (std::runtime_error,
// std::invalid_argument, std::out_of_range, ...) and weft's own are known
// already; others arrive as remote_error. Register before creating the pool
// or anywhere in this process: only the receiving side needs it.
template <class E>
void register_remote_exception() {
    static_assert(std::is_constructible_v<E, std::string>,
                  "register_remote_exception<E>: E must be constructible from a std::string");
    detail::register_remote_exception(
        typeid(E), [](const std::string& message) { return std::make_exception_ptr(E(message)); });
}

}  // namespace weft

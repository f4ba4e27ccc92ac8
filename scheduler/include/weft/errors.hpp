// The exceptions weft raises, named after asyncio's.
//
// cancelled_error deliberately does not derive from std::exception, for the
// same reason asyncio.CancelledError derives from BaseException: a
// `catch (const std::exception&)` meant for failures must not swallow a
// cancellation. Catch it by name, clean up, and rethrow.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace weft {

// asyncio.CancelledError: thrown at the suspension point of a cancelled task.
class cancelled_error {
public:
    cancelled_error() = default;
    explicit cancelled_error(std::string message) : message_(std::move(message)) {}
    // The message given to cancel(msg); empty when none was given.
    const std::string& message() const noexcept { return message_; }
    const char* what() const noexcept { return message_.c_str(); }

private:
    std::string message_;
};

// Python's KeyboardInterrupt: raised by runner::run when SIGINT (Ctrl-C)
// cancelled the main task. Like cancelled_error it is not a std::exception,
// so that `catch (const std::exception&)` does not swallow it. weft::run
// turns it into Python's exit: a message on stderr and death by SIGINT
// (exit status 130).
class keyboard_interrupt {
public:
    const char* what() const noexcept { return "KeyboardInterrupt"; }
};

// asyncio.InvalidStateError: a result set twice, result() of a pending future,
// a lazy task awaited a second time.
class invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

// TimeoutError raised by wait_for() and timeout() scopes.
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("timed out") {}
    using std::runtime_error::runtime_error;
};

// Several errors raised together (Python's ExceptionGroup), by task_group.
class exception_group : public std::runtime_error {
public:
    exception_group(std::string message, std::vector<std::exception_ptr> errors)
        : std::runtime_error(message), errors_(std::move(errors)) {}
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }

private:
    std::vector<std::exception_ptr> errors_;
};

// A bad setting, named by where it came from: a thread count from
// `--threads`, WEFT_THREADS or run_options::threads, a negative
// run_options::blocking_threshold. what() is "<source>: <problem>", the
// problem naming the bad value as it was given. A std::invalid_argument, so
// code that catches those catches it too.
//
// A runner checks its options before it starts anything. When no caller
// catches the error there, the program ends as Python ends on an uncaught
// exception: that one line on stderr, after the program's name, and exit
// status 1, rather than std::terminate's abort (see run.hpp).
class configuration_error : public std::invalid_argument {
public:
    configuration_error(std::string source, std::string problem)
        : std::invalid_argument(source + ": " + problem),
          source_(std::move(source)),
          problem_(std::move(problem)) {}
    // Where the value came from ("--threads", "WEFT_THREADS", ...).
    const std::string& source() const noexcept { return source_; }
    // What is wrong with it, without the source.
    const std::string& problem() const noexcept { return problem_; }

private:
    std::string source_;
    std::string problem_;
};

// Raised where a running event loop is required and there is none.
class no_running_loop_error : public std::runtime_error {
public:
    no_running_loop_error() : std::runtime_error("no running event loop") {}
};

// The type name and message of an exception, as asyncio prints them
// ("ValueError bad" becomes e.g. "std::invalid_argument: bad").
std::string describe(const std::exception_ptr& e);
// Just the demangled type name of the exception held by `e`.
std::string exception_type_name(const std::exception_ptr& e);

}  // namespace weft

// weft::file: each call is one request, on the loop's io_uring ring when it
// has one (detail::completion_queue), else the syscall on a blocking thread.
//
// A request and what it points to (the read buffer, the bytes to write, the
// path) live in a `file_op` shared by the awaiting task and the party doing
// it (the ring's CQE, or the blocking thread). Either may be first to let
// go: a cancelled task goes at once, and the kernel or the thread finishes
// with the buffer later.
//
// The descriptor is closed by whoever lets go of it last: close() when no
// request is in flight, else the last request to finish (its file_state
// reference), so a syscall on a thread never meets a recycled fd number.
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/detail/completion_queue.hpp>
#include <weft/errors.hpp>
#include <weft/event_loop.hpp>
#include <weft/future.hpp>
#include <weft/io/errors.hpp>
#include <weft/io/file.hpp>

#include "blocking_pool.hpp"

namespace weft {

namespace detail {

struct file_state {
    ~file_state() {
        if (fd >= 0) ::close(fd);
    }
    std::string path;
    int fd = -1;  // -1 once close() has taken it
    bool append = false;
    // Not seekable (a FIFO, a character device): read() and write() use the
    // descriptor's own position, which is no position at all.
    bool stream = false;
    bool uring = false;  // what the opening loop had (runs_on)
    std::atomic<bool> closed{false};
    std::atomic<bool> positioned{false};  // a read() or write() is running
    std::atomic<std::uint64_t> position{0};
};

namespace {

// One request in flight: what it needs kept alive, and how its result comes.
struct file_op final : completion_target {
    io_request req;
    std::string buf;                   // read: the bytes read; write: the bytes to write
    std::string path;                  // open
    std::shared_ptr<file_state> file;  // keeps the fd open while the request runs
    std::shared_ptr<file_op> self;     // the ring's reference, until the CQE
    future<int> result;
};

void on_ring_complete(completion_target* t, int res, const char* /*data*/) noexcept {
    auto* op = static_cast<file_op*>(t);
    std::shared_ptr<file_op> keep = std::move(op->self);
    op->result.try_set_result(res);  // ignored when the waiting task was cancelled
}

// The syscall itself, for the blocking threads: its result, or -errno.
int run_syscall(const io_request& r) noexcept {
    long n = -1;
    switch (r.op) {
        case io_request::kind::open:
            n = ::open(r.path, r.flags, static_cast<mode_t>(r.mode));
            break;
        case io_request::kind::read:
            n = r.offset == io_request::at_position
                    ? ::read(r.fd, r.data, r.size)
                    : ::pread(r.fd, r.data, r.size, static_cast<off_t>(r.offset));
            break;
        case io_request::kind::write:
            n = r.offset == io_request::at_position
                    ? ::write(r.fd, r.data, r.size)
                    : ::pwrite(r.fd, r.data, r.size, static_cast<off_t>(r.offset));
            break;
        case io_request::kind::fsync:
            n = ::fsync(r.fd);
            break;
        case io_request::kind::close:
            n = ::close(r.fd);
            break;
        case io_request::kind::recv:
        case io_request::kind::send:
        case io_request::kind::accept:
        case io_request::kind::connect:
        case io_request::kind::shutdown:
            errno = EINVAL;  // a socket's, only ever submitted to a ring
            break;
    }
    return n < 0 ? -errno : static_cast<int>(n);
}

// "weft::file::<method>", and the path for an open: built only for an
// error, so that a read or write allocates no message.
std::string describe(const file_op& op, const char* method) {
    std::string what = std::string("weft::file::") + method;
    if (!op.path.empty()) what += ": " + op.path;
    return what;
}

// Runs `op` and returns its result (>= 0) or raises its errno, naming
// `method` (describe). Cancelling the awaiting task cancels the request.
task<int> perform(std::shared_ptr<file_op> op, const char* method) {
    event_loop* loop = event_loop::current();
    if (loop == nullptr) {
        throw std::logic_error(describe(*op, method) + ": awaited outside an event loop's thread");
    }
    completion_queue* ring = completions_of(loop->poller());
    int res = 0;
    if (ring != nullptr) {
        op->on_complete = &on_ring_complete;
        op->self = op;
        try {
            ring->submit(op->req, op.get());
        } catch (...) {
            op->self.reset();
            throw;
        }
        try {
            res = co_await op->result;
        } catch (const cancelled_error&) {
            ring->cancel(op.get());  // its buffer stays with `self` until the CQE
            throw;
        }
    } else {
        future<int> f = start_blocking<int>([op] { return run_syscall(op->req); });
        res = co_await f;  // cancelled: the thread finishes, `op` keeps the buffer
    }
    if (res < 0) throw_io_error(describe(*op, method).c_str(), -res);
    co_return res;
}

std::shared_ptr<file_op> make_op(const std::shared_ptr<file_state>& s, io_request::kind k) {
    auto op = std::make_shared<file_op>();
    op->req.op = k;
    op->req.fd = s->fd;
    op->file = s;
    return op;
}

// Python's mode string, as open(2)'s flags; raises std::invalid_argument.
int flags_of(const std::string& mode, bool& append) {
    int base = -1, plus = 0, bytes = 0;
    for (char c : mode) {
        int* slot = nullptr;
        int value = 0;
        switch (c) {
            case 'r':
                value = 0;
                slot = &base;
                break;
            case 'w':
                value = O_CREAT | O_TRUNC;
                slot = &base;
                break;
            case 'a':
                value = O_CREAT | O_APPEND;
                slot = &base;
                break;
            case 'x':
                value = O_CREAT | O_EXCL;
                slot = &base;
                break;
            case '+':
                ++plus;
                continue;
            case 'b':
                ++bytes;
                continue;
            default:
                slot = nullptr;
                break;
        }
        if (slot == nullptr || base != -1) {
            base = -2;
            break;
        }
        base = value;
        append = c == 'a';
        if (c != 'r') base |= O_WRONLY;  // made O_RDWR below with '+'
    }
    if (base < 0 || plus > 1 || bytes > 1) {
        throw std::invalid_argument("weft::file::open: invalid mode '" + mode +
                                    "' (one of r, w, a, x, with an optional + and b)");
    }
    if (plus) base = (base & ~O_WRONLY) | O_RDWR;
    return base | O_CLOEXEC;
}

// A chunk of a read to the end.
constexpr std::size_t read_chunk = 256 * 1024;
// The most one request moves (the ring's length is 32 bits; a read(2) moves
// at most about 2 GiB anyway).
constexpr std::size_t max_request = std::size_t{1} << 30;

// One positional call at a time per file.
class position_guard {
public:
    position_guard(file_state& s, const char* what) : s_(s) {
        // acquire/release: the position passes from one call to the next,
        // which may run on another worker.
        if (s.positioned.exchange(true, std::memory_order_acquire)) {
            throw std::logic_error(std::string("weft::file::") + what +
                                   ": another read() or write() of this file is running");
        }
    }
    ~position_guard() { s_.positioned.store(false, std::memory_order_release); }
    position_guard(const position_guard&) = delete;
    position_guard& operator=(const position_guard&) = delete;

private:
    file_state& s_;
};

void check_open(const std::shared_ptr<file_state>& s, const char* what) {
    if (!s || s->closed.load(std::memory_order_acquire)) {
        throw closed_error(std::string("weft::file::") + what + ": the file is closed");
    }
}

task<std::string> read_at(std::shared_ptr<file_state> s, std::size_t n, std::uint64_t offset,
                          const char* what) {
    auto op = make_op(s, io_request::kind::read);
    op->buf.resize(std::min(n, max_request));
    op->req.data = op->buf.data();
    op->req.size = static_cast<std::uint32_t>(op->buf.size());
    op->req.offset = offset;
    int got = co_await perform(op, what);
    co_return op->buf.substr(0, static_cast<std::size_t>(got));
}

task<std::size_t> write_at(std::shared_ptr<file_state> s, std::string_view data,
                           std::uint64_t offset, const char* what) {
    auto op = make_op(s, io_request::kind::write);
    op->buf.assign(data.substr(0, max_request));
    op->req.data = op->buf.data();
    op->req.size = static_cast<std::uint32_t>(op->buf.size());
    op->req.offset = offset;
    co_return static_cast<std::size_t>(co_await perform(op, what));
}

}  // namespace

}  // namespace detail

file::file() noexcept = default;
file::file(std::shared_ptr<detail::file_state> s) noexcept : s_(std::move(s)) {}
file::file(file&&) noexcept = default;
file& file::operator=(file&& o) noexcept {
    if (this != &o) {
        if (s_) s_->closed.store(true, std::memory_order_release);
        s_ = std::move(o.s_);
    }
    return *this;
}
file::~file() {
    // The fd closes with the state, once no request holds it.
    if (s_) s_->closed.store(true, std::memory_order_release);
}

task<file> file::open(std::string path, std::string mode, unsigned permissions) {
    auto s = std::make_shared<detail::file_state>();
    int flags = detail::flags_of(mode, s->append);
    s->path = path;
    auto op = std::make_shared<detail::file_op>();
    op->req.op = detail::io_request::kind::open;
    op->path = std::move(path);
    op->req.path = op->path.c_str();
    op->req.flags = flags;
    op->req.mode = permissions;
    event_loop* loop = event_loop::current();
    s->uring = loop != nullptr && detail::completions_of(loop->poller()) != nullptr;
    s->fd = co_await detail::perform(op, "open");
    struct stat st {};
    s->stream = ::fstat(s->fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
    co_return file(std::move(s));
}

task<std::string> file::read(std::ptrdiff_t n) {
    detail::check_open(s_, "read");
    std::shared_ptr<detail::file_state> s = s_;
    detail::position_guard guard(*s, "read");
    std::string out;
    bool to_end = n < 0;
    std::size_t want = to_end ? 0 : static_cast<std::size_t>(n);
    while (to_end || out.size() < want) {
        std::size_t ask = to_end ? detail::read_chunk : want - out.size();
        std::uint64_t at = s->position.load(std::memory_order_relaxed);
        std::string chunk = co_await detail::read_at(
            s, ask, s->stream ? detail::io_request::at_position : at, "read");
        if (chunk.empty()) break;  // the end of the file
        s->position.store(at + chunk.size(), std::memory_order_relaxed);
        out += chunk;
        if (s->stream && !to_end) break;  // what a pipe has now, as read(2)
    }
    co_return out;
}

task<std::size_t> file::write(std::string data) {
    detail::check_open(s_, "write");
    std::shared_ptr<detail::file_state> s = s_;
    detail::position_guard guard(*s, "write");
    std::size_t done = 0;
    while (done < data.size()) {
        std::string_view rest = std::string_view(data).substr(done);
        if (s->append || s->stream) {
            // O_APPEND: the kernel puts it at the end, whatever the offset.
            done += co_await detail::write_at(s, rest, detail::io_request::at_position, "write");
        } else {
            std::uint64_t at = s->position.load(std::memory_order_relaxed);
            std::size_t n = co_await detail::write_at(s, rest, at, "write");
            s->position.store(at + n, std::memory_order_relaxed);
            done += n;
        }
    }
    if (s->append) {
        off_t end = ::lseek(s->fd, 0, SEEK_END);  // where the next read() of "a+" starts
        if (end >= 0) s->position.store(static_cast<std::uint64_t>(end), std::memory_order_relaxed);
    }
    co_return done;
}

task<std::string> file::pread(std::size_t n, std::uint64_t offset) {
    detail::check_open(s_, "pread");
    if (offset == detail::io_request::at_position) {
        throw std::invalid_argument("weft::file::pread: offset out of range");
    }
    co_return co_await detail::read_at(s_, n, offset, "pread");
}

task<std::size_t> file::pwrite(std::string data, std::uint64_t offset) {
    detail::check_open(s_, "pwrite");
    if (offset == detail::io_request::at_position) {
        throw std::invalid_argument("weft::file::pwrite: offset out of range");
    }
    std::shared_ptr<detail::file_state> s = s_;
    std::size_t done = 0;
    while (done < data.size()) {
        done += co_await detail::write_at(s, std::string_view(data).substr(done), offset + done,
                                          "pwrite");
    }
    co_return done;
}

task<void> file::fsync() {
    detail::check_open(s_, "fsync");
    co_await detail::perform(detail::make_op(s_, detail::io_request::kind::fsync), "fsync");
}

task<void> file::close() {
    if (!s_ || s_->closed.exchange(true, std::memory_order_acq_rel)) co_return;
    std::shared_ptr<detail::file_state> s = s_;
    // Requests still in flight hold `s` too: the last of them closes the fd.
    if (s.use_count() > 2) co_return;
    auto op = std::make_shared<detail::file_op>();
    op->req.op = detail::io_request::kind::close;
    op->req.fd = std::exchange(s->fd, -1);
    co_await detail::perform(op, "close");
}

std::uint64_t file::tell() const {
    detail::check_open(s_, "tell");
    return s_->position.load(std::memory_order_relaxed);
}

void file::seek(std::uint64_t position) {
    detail::check_open(s_, "seek");
    if (s_->positioned.load(std::memory_order_acquire)) {
        throw std::logic_error("weft::file::seek: a read() or write() of this file is running");
    }
    s_->position.store(position, std::memory_order_relaxed);
}

int file::fileno() const noexcept {
    return s_ && !s_->closed.load(std::memory_order_acquire) ? s_->fd : -1;
}

bool file::is_open() const noexcept {
    return s_ && !s_->closed.load(std::memory_order_acquire);
}

const std::string& file::path() const noexcept {
    static const std::string none;
    return s_ ? s_->path : none;
}

std::string_view file::runs_on() const noexcept {
    return s_ && s_->uring ? "uring" : "thread";
}

}  // namespace weft

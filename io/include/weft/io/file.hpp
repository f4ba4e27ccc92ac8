// Files without blocking the loop: open, read, write, pread/pwrite, fsync,
// close, awaited like any other I/O (aiofiles' API on asyncio, where a
// file's calls go to threads).
//
//     weft::file f = co_await weft::file::open("data.bin", "r");
//     std::string head = co_await f.read(4096);
//     std::string rest = co_await f.read();              // to the end
//     co_await f.close();
//
//     weft::file log = co_await weft::file::open("app.log", "a");
//     co_await log.write("started\n");
//     co_await log.fsync();
//
// On the io_uring backend (docs/io.md, "Backends") each call is one request
// in the loop's ring, done by the kernel; on epoll, which cannot wait for a
// regular file, it is the syscall on one of weft::io's blocking threads.
// Same API, same results, same errors on both.
//
// Errors are Python's: a failed syscall raises std::system_error with its
// errno ("weft::file::open: missing.txt: No such file or directory"); a call
// on a closed file raises weft::closed_error; a bad mode raises
// std::invalid_argument; reading a file opened only for writing (or the
// reverse) raises std::system_error (EBADF), as the syscall says.
//
// Cancelling a call (wait_for, task.cancel()) raises cancelled_error at once;
// on io_uring the request is cancelled in the ring, and its buffer lives
// until the kernel is done with it. A cancelled read() or write() does not
// move the file's position past what was acknowledged, so a read after a
// cancelled one starts where that one did; a cancelled write may still have
// reached the file. One read() or write() at a time per file (they share the
// position; a second concurrent one raises std::logic_error); pread/pwrite
// at given offsets may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <weft/task.hpp>

namespace weft {

namespace detail {
struct file_state;
}

class file {
public:
    // Not open.
    file() noexcept;
    file(file&&) noexcept;
    file& operator=(file&&) noexcept;
    file(const file&) = delete;
    file& operator=(const file&) = delete;
    // Closes the file if it is still open (a plain close(2): a regular
    // file's close does not wait for the disk).
    ~file();

    // Python's open(path, mode) for bytes: "r" (read; the file must exist),
    // "w" (write; created or truncated), "a" (append; created), "x"
    // (write; created, must not exist), each with "+" to read and write,
    // and a "b" anywhere, accepted and ignored (every file is bytes here).
    // A new file gets `permissions` less the umask.
    static task<file> open(std::string path, std::string mode = "r", unsigned permissions = 0666);

    // Up to `n` bytes at the position, fewer only at the end of the file
    // ("" there); n < 0: everything to the end. The position moves past
    // what was read. On a FIFO or a character device (no position): what
    // one read(2) gives, at least a byte unless it ended.
    task<std::string> read(std::ptrdiff_t n = -1);
    // All of `data` at the position (at the end in append mode); returns
    // its size. The position moves past it.
    task<std::size_t> write(std::string data);
    // At `offset`, leaving the position alone.
    task<std::string> pread(std::size_t n, std::uint64_t offset);
    task<std::size_t> pwrite(std::string data, std::uint64_t offset);
    // Data and metadata to the disk (fsync(2)).
    task<void> fsync();
    // Closes it; later calls raise closed_error, and a second close does
    // nothing. With calls still in flight (cancelled ones the kernel has
    // not finished), the descriptor itself closes after the last of them.
    task<void> close();

    // The position read() and write() use, and setting it (lseek's SEEK_SET).
    std::uint64_t tell() const;
    void seek(std::uint64_t position);
    // The descriptor; -1 once closed.
    int fileno() const noexcept;
    bool is_open() const noexcept;
    explicit operator bool() const noexcept { return is_open(); }
    const std::string& path() const noexcept;
    // "uring" or "thread": how this file's calls run (fixed at open, by the
    // backend of the loop that opened it).
    std::string_view runs_on() const noexcept;

private:
    explicit file(std::shared_ptr<detail::file_state> s) noexcept;
    std::shared_ptr<detail::file_state> s_;
};

}  // namespace weft

// weft::mpi_serve: a serving rank. Its main thread (the one that started MPI,
// so MPI_THREAD_FUNNELED is enough) is the only one that calls MPI: it
// receives calls and cancels from rank 0 and sends the replies; `threads`
// runner threads run the calls.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/executors/mpi_executor.hpp>

#include "../remote.hpp"
#include "mpi_internal.hpp"
#include "progress.hpp"

namespace weft {

namespace {

using namespace detail;

// A call received and not yet taken by a runner.
struct received_call {
    std::uint64_t id = 0;
    std::string message;      // the whole message: header, then arguments
    std::size_t args_at = 0;  // where the arguments start in it
    call_header header;
};

// A reply on its way to rank 0: its bytes live until MPI is done with them.
struct outgoing {
    std::string bytes;
    MPI_Request request = MPI_REQUEST_NULL;
};

class server {
public:
    server(MPI_Comm comm, int threads, bool direct) : comm_(comm), direct_(direct) {
        runners_.reserve(static_cast<std::size_t>(threads));
        for (int i = 0; i < threads; ++i)
            runners_.emplace_back([this] { run(); });
    }

    ~server() {
        {
            std::lock_guard lock(m_);
            leaving_ = true;
        }
        work_.notify_all();
        for (auto& t : runners_)
            t.join();
    }

    // The receive/send loop; returns when rank 0 says stop and every call
    // received has been answered.
    void serve() {
        progress_backoff idle;
        poller_timer_slack();
        bool stop = false;
        for (;;) {
            bool busy = receive_all(stop);
            busy |= send_replies();
            busy |= reap_sends();
            if (stop && quiet()) return;
            if (busy) {
                idle.reset();
                continue;
            }
            // A runner with a reply wakes this thread early (`done_`).
            auto wait = idle.next();
            std::unique_lock lock(m_);
            if (!replies_.empty()) continue;
            if (wait.count() == 0) {
                lock.unlock();
                std::this_thread::yield();
            } else {
                done_.wait_for(lock, wait);
            }
        }
    }

private:
    // Takes every message that has arrived; true if there was one.
    bool receive_all(bool& stop) {
        bool any = false;
        std::string bytes;
        MPI_Status status;
        while (receive_message(comm_, 0, bytes, status)) {
            any = true;
            switch (status.MPI_TAG) {
                case tag_call:
                    take_call(std::move(bytes));
                    break;
                case tag_cancel:
                    take_cancel(bytes);
                    break;
                case tag_stop:
                    stop = true;
                    break;
                default:
                    break;  // nothing else is sent to a serving rank
            }
        }
        return any;
    }

    void take_call(std::string bytes) {
        received_call c;
        try {
            byte_reader r(bytes.data(), bytes.size());
            c.header = r.get<call_header>();
            c.args_at = bytes.size() - r.remaining();
        } catch (const std::exception& e) {
            // Only a different build of weft on rank 0 could send this.
            std::fprintf(stderr, "weft::mpi_serve: a malformed call from rank 0 dropped: %s\n",
                         e.what());
            return;
        }
        c.id = c.header.id;
        c.message = std::move(bytes);
        {
            std::lock_guard lock(m_);
            queue_.push_back(std::move(c));
        }
        work_.notify_one();
    }

    void take_cancel(const std::string& bytes) {
        std::uint64_t id = 0;
        try {
            byte_reader r(bytes.data(), bytes.size());
            id = r.get<std::uint64_t>();
        } catch (const std::exception&) {
            return;
        }
        std::lock_guard lock(m_);
        auto it = std::find_if(queue_.begin(), queue_.end(),
                               [id](const received_call& c) { return c.id == id; });
        if (it == queue_.end()) return;  // running or answered: it ends on its own
        queue_.erase(it);
        byte_writer w;
        w.put(id);
        w.put(reply_status::dropped);
        replies_.push_back(std::move(w.bytes()));
    }

    // A runner thread: takes calls and runs them.
    void run() {
        std::unique_lock lock(m_);
        for (;;) {
            work_.wait(lock, [this] { return leaving_ || !queue_.empty(); });
            if (queue_.empty()) return;
            received_call c = std::move(queue_.front());
            queue_.pop_front();
            ++running_;
            lock.unlock();
            std::string reply = answer(c);
            if (direct_) {
                // MPI_THREAD_MULTIPLE: the reply leaves from here, without
                // waking the MPI thread to send it; that thread only sees the
                // send complete. (Not a blocking send: this thread goes on to
                // the next call at once.)
                std::list<outgoing> mine;
                mine.emplace_back();
                mine.back().bytes = std::move(reply);
                post_reply(mine.back());
                lock.lock();
                --running_;
                posted_.splice(posted_.end(), mine);
                continue;
            }
            lock.lock();
            --running_;
            replies_.push_back(std::move(reply));
            done_.notify_one();
        }
    }

    // The reply: its header, then the result's bytes written right after it
    // (no copy of a big result).
    static std::string answer(received_call& c) {
        byte_writer out;
        out.put(c.id);
        out.put(reply_status::value);  // overwritten below
        std::size_t status_at = out.bytes().size() - 1;
        std::size_t payload_at = out.bytes().size();
        reply_status status;
        try {
            resolved_call call = resolve(c.header);
            byte_reader args(c.message.data() + c.args_at, c.message.size() - c.args_at);
            status = run_call(call, args, out);
            if (out.bytes().size() > max_message_bytes) {
                throw std::length_error("weft::mpi_executor: a result of " +
                                        std::to_string(out.bytes().size() - payload_at) +
                                        " bytes is more than one MPI message carries");
            }
        } catch (...) {
            out.bytes().resize(payload_at);
            encode_current_exception(out);
            status = reply_status::exception;
        }
        out.bytes()[status_at] = static_cast<char>(status);
        return std::move(out.bytes());
    }

    void post_reply(outgoing& o) {
        mpi_check(MPI_Isend(o.bytes.data(), static_cast<int>(o.bytes.size()), MPI_BYTE, 0,
                            tag_reply, comm_, &o.request),
                  "MPI_Isend");
    }

    // Sends the replies the runners left, and takes over the sends they
    // started themselves.
    bool send_replies() {
        std::deque<std::string> ready;
        {
            std::lock_guard lock(m_);
            ready.swap(replies_);
            sending_.splice(sending_.end(), posted_);
        }
        for (std::string& bytes : ready) {
            sending_.emplace_back();
            sending_.back().bytes = std::move(bytes);
            post_reply(sending_.back());
        }
        return !ready.empty();
    }

    bool reap_sends() {
        bool any = false;
        for (auto it = sending_.begin(); it != sending_.end();) {
            int done = 0;
            mpi_check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
            if (done != 0) {
                it = sending_.erase(it);
                any = true;
            } else {
                ++it;
            }
        }
        return any;
    }

    bool quiet() {
        std::lock_guard lock(m_);
        return queue_.empty() && running_ == 0 && replies_.empty() && posted_.empty() &&
               sending_.empty();
    }

    MPI_Comm comm_;
    bool direct_;  // MPI_THREAD_MULTIPLE: runners send their replies themselves
    std::mutex m_;
    std::condition_variable work_;     // runners wait here for calls
    std::condition_variable done_;     // the MPI thread sleeps here between polls
    std::deque<received_call> queue_;  // guarded by m_
    std::deque<std::string> replies_;  // guarded by m_
    std::list<outgoing> posted_;       // replies runners sent; guarded by m_
    int running_ = 0;                  // guarded by m_
    bool leaving_ = false;             // guarded by m_
    std::list<outgoing> sending_;      // the MPI thread's own
    std::vector<std::thread> runners_;
};

}  // namespace

int mpi_serve(mpi_serve_options options) {
    const mpi_world& world = mpi_current();  // raises before mpi_init
    if (world.rank == 0) {
        throw std::logic_error(
            "weft::mpi_serve: rank 0 runs the program and cannot serve calls; call it on the "
            "other ranks (if (weft::mpi_init(argc, argv).rank != 0) return weft::mpi_serve();)");
    }
    if (options.threads < 0 || options.max_in_flight < 0) {
        throw std::invalid_argument(
            "weft::mpi_serve: threads and max_in_flight must not be "
            "negative, got " +
            std::to_string(options.threads) + " and " + std::to_string(options.max_in_flight));
    }
    int threads = options.threads > 0
                      ? options.threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int capacity = options.max_in_flight > 0 ? options.max_in_flight : 2 * threads;

    // Hello: this rank's capacity, and where mpi_serve lies in its build, for
    // rank 0 to compare with its own.
    code_address self;
    to_code_address(reinterpret_cast<std::uintptr_t>(&mpi_serve), self);
    byte_writer hello;
    hello.put(static_cast<std::int32_t>(threads));
    hello.put(static_cast<std::int32_t>(capacity));
    hello.put(self);
    MPI_Comm comm = mpi_comm();
    int rc = MPI_Send(hello.bytes().data(), static_cast<int>(hello.bytes().size()), MPI_BYTE, 0,
                      tag_hello, comm);
    if (rc != MPI_SUCCESS) {
        throw std::runtime_error("weft::mpi_serve: MPI_Send failed: " + mpi_error_text(rc));
    }
    server s(comm, threads, world.thread_level == mpi_thread_level::multiple);
    s.serve();
    return 0;
}

}  // namespace weft

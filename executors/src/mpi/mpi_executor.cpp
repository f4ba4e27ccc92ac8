// weft::mpi_executor on rank 0: the calls waiting for a rank, the calls in
// flight, and the progress thread that alone calls MPI on this rank (sends
// calls and cancels, receives hellos and replies, fails calls past their
// timeout). Run alone, calls go to the default thread pool and the same
// thread only watches their timeouts.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <weft/errors.hpp>
#include <weft/event_loop.hpp>
#include <weft/executors/errors.hpp>
#include <weft/executors/mpi_executor.hpp>
#include <weft/executors/run_in_executor.hpp>

#include "../remote.hpp"
#include "mpi_internal.hpp"
#include "progress.hpp"

namespace weft {

namespace detail {

struct mpi_executor_state {
    std::mutex m;
    std::condition_variable idle;
    bool shut = false;            // guarded by m
    bool wait_on_destroy = true;  // guarded by m
    int serving_ranks = 0;        // fixed at construction
    // The calls submitted and not come back, for shutdown(cancel_futures);
    // guarded by m. A call leaves before the executor's reference to it goes.
    std::unordered_set<remote_call*> calls;

    // `c` came back (or never will be run): the executor lets go of it.
    void call_done(remote_call* c) noexcept {
        {
            std::lock_guard lock(m);
            calls.erase(c);
            if (calls.empty()) idle.notify_all();
        }
        c->job->core()->release();
    }

    // shutdown(cancel_futures): every call no rank or thread has started.
    void cancel_unstarted() {
        std::vector<remote_call*> mine;
        {
            std::lock_guard lock(m);
            for (remote_call* c : calls) {
                if (c->job->phase() != job_base::queued) continue;
                c->job->core()->add_ref();
                mine.push_back(c);
            }
        }
        for (remote_call* c : mine) {
            // Still queued, cancel_job only skips it: it never runs. (Taken
            // meanwhile, it is cancelled as a call in flight is.)
            c->job->cancel_job(nullptr);
            c->job->core()->release();
        }
    }
};

namespace {

// The executor's reference to a call (its future's state).
void release(remote_call* c) noexcept {
    c->job->core()->release();
}

// Completes `c`'s future from a reply (or an in-process run): the result's
// bytes, an exception, or nothing for a call dropped before it ran.
void complete(remote_call* c, reply_status status, byte_reader& payload) noexcept {
    try {
        switch (status) {
            case reply_status::value:
                c->deliver(c, payload);
                return;
            case reply_status::exception:
                c->job->finish_exception(decode_exception(payload));
                return;
            case reply_status::dropped:
                // Only a cancelled call is dropped, so its future is done
                // already; this only makes sure of it.
                c->job->finish_exception(std::make_exception_ptr(
                    cancelled_error("weft::mpi_executor: the call was dropped before it ran")));
                return;
        }
        c->job->finish_exception(std::make_exception_ptr(
            codec_error("weft::mpi_executor: a reply with an unknown status")));
    } catch (...) {
        c->job->finish_exception(std::current_exception());
    }
}

std::int64_t deadline_of(const remote_call* c) {
    if (c->timeout <= 0) return -1;
    return event_loop::time_ns() + static_cast<std::int64_t>(c->timeout * 1e9);
}

std::exception_ptr timeout_of(const remote_call* c) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", c->timeout);
    return std::make_exception_ptr(timeout_error("weft::mpi_executor: " + label_of(*c) +
                                                 " ran past its timeout of " + secs + " s"));
}

// A message on its way out: its header's bytes and, for a call, its argument
// bytes, moved here from the call (not copied) so that they live as long as
// the send, which may end after the reply has come back and the call is gone.
struct outgoing {
    std::string head;
    std::string args;
    MPI_Request request = MPI_REQUEST_NULL;
};

class mpi_client {
public:
    static mpi_client& get() {
        static auto* client = [] {
            auto* made = new mpi_client;  // ends with MPI (before_finalize), never freed
            // release: pairs with made_client()'s acquire.
            made_.store(made, std::memory_order_release);
            return made;
        }();
        return *client;
    }
    // The client if one was made (by an executor), else null.
    static mpi_client* made_client() noexcept { return made_.load(std::memory_order_acquire); }

    // Queues `c` for a rank (MPI) or runs it on the default thread pool
    // (alone). Raises once MPI has ended, or when the default pool refuses
    // it; the caller then still holds its reference.
    void submit(remote_call* c, const std::shared_ptr<mpi_executor_state>& owner) {
        c->id = next_id_.fetch_add(1, std::memory_order_relaxed);
        if (c->request.size() > max_message_bytes - 4096) {  // room for the header
            throw std::length_error("weft::mpi_executor: the arguments of " + label_of(*c) +
                                    " encode to " + std::to_string(c->request.size()) +
                                    " bytes, more than one MPI message carries");
        }
        std::unique_lock lock(m_);
        if (ended_) {
            throw executor_shutdown_error(
                "weft::mpi_executor: MPI has ended (mpi_finalize): no more calls");
        }
        start_thread(lock);
        if (alone_) {
            lock.unlock();
            auto run = [this, c, owner]() noexcept { run_here(c, owner); };
            default_executor().submit(run);
            return;
        }
        c->stop = &stop_call;
        if (direct_ && queue_.empty()) {
            int rank = least_loaded();
            if (rank >= 0 && c->job->start()) {
                // A rank has room: send from this thread rather than wake the
                // progress thread to do it (one hand-over less on a call's
                // way; MPI_THREAD_MULTIPLE allows it). The progress thread
                // takes the send over to see it complete.
                dispatch(rank, c, owner);
                lock.unlock();
                std::list<outgoing> mine;
                send_or_abort(rank, c, mine);
                lock.lock();
                posted_.splice(posted_.end(), mine);
                lock.unlock();
                wake_.notify_one();
                return;
            }
        }
        queue_.push_back({c, owner});
        lock.unlock();
        wake_.notify_one();
    }

    // mpi_finalize on rank 0: drains, stops the thread, tells the serving
    // ranks to leave. MPI still runs.
    void before_finalize() {
        std::vector<queued> left;
        {
            std::unique_lock lock(m_);
            ended_ = true;
            left.assign(queue_.begin(), queue_.end());
            queue_.clear();
        }
        for (queued& q : left) {
            q.call->job->finish_exception(std::make_exception_ptr(executor_shutdown_error(
                "weft::mpi_executor: MPI ended before " + label_of(*q.call) + " was sent")));
            q.owner->call_done(q.call);
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    struct queued {
        remote_call* call;
        std::shared_ptr<mpi_executor_state> owner;
    };
    struct flight {
        remote_call* call;
        std::shared_ptr<mpi_executor_state> owner;
        int rank;                  // -1: running in this process
        std::int64_t deadline_ns;  // -1: none
        bool expired = false;
    };
    struct rank_info {
        bool said_hello = false;
        int capacity = 0;
        int in_flight = 0;
        std::string problem;  // why calls are not sent to it (another build)
    };
    // What the thread does with MPI after one look at the shared state.
    struct round {
        std::vector<std::pair<int, remote_call*>> calls;     // rank, call (in flight: alive)
        std::vector<std::pair<int, std::uint64_t>> cancels;  // rank, call id
        std::vector<remote_call*> expired;                   // to fail (with a reference)
        std::vector<queued> dropped;                         // cancelled while they waited here
        std::vector<queued> refused;                         // no rank runs this build
        std::string refused_why;
        bool any() const noexcept {
            return !calls.empty() || !cancels.empty() || !expired.empty() || !dropped.empty() ||
                   !refused.empty();
        }
    };

    mpi_client() {
        const mpi_world& world = mpi_current();
        alone_ = world.size == 1;
        direct_ = world.thread_level == mpi_thread_level::multiple;
        ranks_.resize(static_cast<std::size_t>(world.size));
        to_code_address(reinterpret_cast<std::uintptr_t>(&mpi_serve), self_);
    }

    void start_thread(std::unique_lock<std::mutex>&) {
        if (!thread_.joinable()) thread_ = std::thread([this] { run_or_abort(); });
    }

    // ---- the progress thread

    // MPI's default error handler ends the job before an MPI call can fail;
    // under another handler, a failed call leaves the executor no way on.
    void run_or_abort() noexcept {
        try {
            run();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "weft::mpi_executor: %s\n", e.what());
            std::abort();
        }
    }

    void run() {
        progress_backoff idle;
        poller_timer_slack();
        for (;;) {
            round r;
            {
                std::unique_lock lock(m_);
                sending_.splice(sending_.end(), posted_);
                if (ended_ && queue_.empty() && flights_.empty() && sending_.empty()) return;
                plan(r);
                bool outstanding =
                    !queue_.empty() || !flights_.empty() || !sending_.empty() || r.any();
                if (outstanding && alone_ && !r.any()) {
                    // Alone: only deadlines to watch.
                    wait_for_deadline(lock);
                    continue;
                }
                if (!outstanding) {
                    idle.reset();
                    wait_for_deadline(lock);
                    continue;
                }
            }
            bool busy = r.any();
            finish_round(r);
            if (!alone_) {
                for (auto [rank, c] : r.calls)
                    send_call(rank, c, sending_);
                for (auto [rank, id] : r.cancels)
                    send_cancel(rank, id);
                busy |= receive_all();
                busy |= reap_sends();
            }
            if (busy) {
                idle.reset();
                continue;
            }
            auto wait = idle.next();
            std::unique_lock lock(m_);
            if (wait.count() == 0) {
                lock.unlock();
                std::this_thread::yield();
            } else {
                wake_.wait_for(lock, wait);
            }
        }
    }

    // Sleeps until the next deadline or a wake-up.
    void wait_for_deadline(std::unique_lock<std::mutex>& lock) {
        std::int64_t next = -1;
        for (auto& [id, f] : flights_)
            if (f.deadline_ns >= 0 && !f.expired && (next < 0 || f.deadline_ns < next))
                next = f.deadline_ns;
        if (next < 0) {
            wake_.wait(lock);
        } else {
            std::int64_t left = next - event_loop::time_ns();
            if (left > 0) wake_.wait_for(lock, std::chrono::nanoseconds(left));
        }
    }

    // With m_ held: deadlines passed, cancels asked for, calls a rank can
    // take now.
    void plan(round& r) {
        std::int64_t now = event_loop::time_ns();
        for (auto& [id, f] : flights_) {
            if (f.deadline_ns < 0 || f.expired || f.deadline_ns > now) continue;
            f.expired = true;
            f.call->job->core()->add_ref();  // released after failing it
            r.expired.push_back(f.call);
            // A call past its time that has not started on its rank never will.
            if (f.rank > 0) r.cancels.emplace_back(f.rank, id);
        }
        for (std::uint64_t id : cancel_requests_) {
            auto it = flights_.find(id);
            if (it != flights_.end() && it->second.rank > 0)
                r.cancels.emplace_back(it->second.rank, id);
        }
        cancel_requests_.clear();
        if (alone_) return;
        while (!queue_.empty()) {
            int rank = least_loaded();
            if (rank < 0) {
                if (no_rank_will_do(r.refused_why)) {
                    r.refused.assign(queue_.begin(), queue_.end());
                    queue_.clear();
                }
                break;
            }
            queued q = std::move(queue_.front());
            queue_.pop_front();
            remote_call* c = q.call;
            if (!c->job->start()) {  // cancelled while it waited here: never runs
                r.dropped.push_back(std::move(q));
                continue;
            }
            dispatch(rank, c, q.owner);
            r.calls.emplace_back(rank, c);
        }
    }

    // Without the lock (a release may run a future's last destructor): fails
    // the calls past their deadline and those no rank will take, lets go of
    // those cancelled while they waited.
    static void finish_round(round& r) {
        for (remote_call* c : r.expired) {
            c->job->finish_exception(timeout_of(c));
            release(c);
        }
        for (queued& q : r.refused) {
            q.call->job->finish_exception(
                std::make_exception_ptr(std::runtime_error(r.refused_why)));
        }
        for (auto* list : {&r.dropped, &r.refused}) {
            for (queued& q : *list) {
                q.owner->call_done(q.call);
            }
        }
    }

    // With m_ held: `c` (started) goes to `rank`: it counts there and is in
    // flight until the rank answers.
    void dispatch(int rank, remote_call* c, const std::shared_ptr<mpi_executor_state>& owner) {
        ranks_[static_cast<std::size_t>(rank)].in_flight++;
        flights_.emplace(c->id, flight{c, owner, rank, deadline_of(c)});
    }

    // The serving rank with the lowest share of its capacity in use; -1 if
    // every one is full, has not said hello yet, or runs another build.
    int least_loaded() const {
        int best = -1;
        double best_share = 1.0;
        for (std::size_t r = 1; r < ranks_.size(); ++r) {
            const rank_info& k = ranks_[r];
            if (!k.said_hello || !k.problem.empty() || k.in_flight >= k.capacity) continue;
            double share = static_cast<double>(k.in_flight) / k.capacity;
            if (best < 0 || share < best_share) {
                best = static_cast<int>(r);
                best_share = share;
            }
        }
        return best;
    }

    // With m_ held: whether every rank has said hello and none can take
    // calls because each runs another build (then `why` says so).
    bool no_rank_will_do(std::string& why) const {
        for (std::size_t r = 1; r < ranks_.size(); ++r) {
            if (!ranks_[r].said_hello || ranks_[r].problem.empty()) return false;
            why = ranks_[r].problem;
        }
        return ranks_.size() > 1;
    }

    // A failed MPI call ends the program (see run_or_abort).
    static void send_or_abort(int rank, remote_call* c, std::list<outgoing>& into) noexcept {
        try {
            send_call(rank, c, into);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "weft::mpi_executor: %s\n", e.what());
            std::abort();
        }
    }

    // Starts sending `c` to `rank`; the send's state goes to the end of
    // `into` (list nodes stay where they are: MPI holds their addresses).
    static void send_call(int rank, remote_call* c, std::list<outgoing>& into) {
        call_header h;
        h.id = c->id;
        h.named = c->named;
        if (c->named) {
            h.name = function_at(static_cast<std::uint32_t>(c->a))->name;
        } else {
            to_code_address(c->a, h.invoker);
            h.has_function = c->b != 0;
            if (h.has_function) to_code_address(c->b, h.function);
        }
        byte_writer w;
        w.put(h);
        into.emplace_back();
        outgoing& o = into.back();
        o.head = std::move(w.bytes());
        o.args = std::move(c->request);
        // The header and the arguments as one message, read by MPI where they
        // lie: a derived type of the two blocks at their absolute addresses.
        int lengths[2] = {static_cast<int>(o.head.size()), static_cast<int>(o.args.size())};
        MPI_Aint at[2];
        MPI_Get_address(o.head.data(), &at[0]);
        MPI_Get_address(o.args.data(), &at[1]);
        MPI_Datatype both;
        MPI_Type_create_hindexed(2, lengths, at, MPI_BYTE, &both);
        MPI_Type_commit(&both);
        mpi_check(MPI_Isend(MPI_BOTTOM, 1, both, rank, tag_call, mpi_comm(), &o.request),
                  "MPI_Isend");
        MPI_Type_free(&both);  // freed by MPI once the send is done with it
    }

    void send_cancel(int rank, std::uint64_t id) {
        byte_writer w;
        w.put(id);
        sending_.emplace_back();
        outgoing& o = sending_.back();
        o.head = std::move(w.bytes());
        mpi_check(MPI_Isend(o.head.data(), static_cast<int>(o.head.size()), MPI_BYTE, rank,
                            tag_cancel, mpi_comm(), &o.request),
                  "MPI_Isend");
    }

    bool reap_sends() {
        bool any = false;
        for (auto it = sending_.begin(); it != sending_.end();) {
            int done = 0;
            mpi_check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
            if (done == 0) {
                ++it;
                continue;
            }
            it = sending_.erase(it);
            any = true;
        }
        return any;
    }

    bool receive_all() {
        bool any = false;
        std::string bytes;
        MPI_Status status;
        while (receive_message(mpi_comm(), MPI_ANY_SOURCE, bytes, status)) {
            any = true;
            try {
                byte_reader r(bytes.data(), bytes.size());
                if (status.MPI_TAG == tag_reply) {
                    take_reply(r);
                } else if (status.MPI_TAG == tag_hello) {
                    take_hello(status.MPI_SOURCE, r);
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "weft::mpi_executor: a malformed message from rank %d: %s\n",
                             status.MPI_SOURCE, e.what());
            }
        }
        return any;
    }

    void take_hello(int rank, byte_reader& r) {
        auto threads = r.get<std::int32_t>();
        auto capacity = r.get<std::int32_t>();
        auto where = r.get<code_address>();
        std::lock_guard lock(m_);
        rank_info& k = ranks_[static_cast<std::size_t>(rank)];
        k.said_hello = true;
        k.capacity = std::max(1, static_cast<int>(capacity));
        (void)threads;
        if (where.module != self_.module || where.offset != self_.offset) {
            k.problem = "weft::mpi_executor: rank " + std::to_string(rank) +
                        " runs another build of the program (mpi_serve lies at offset " +
                        std::to_string(where.offset) + " there, " + std::to_string(self_.offset) +
                        " here): every rank must run the same binary";
            std::fprintf(stderr, "%s; no calls go to it\n", k.problem.c_str());
        }
    }

    void take_reply(byte_reader& r) {
        auto id = r.get<std::uint64_t>();
        auto status = r.get<reply_status>();
        flight f;
        {
            std::lock_guard lock(m_);
            auto it = flights_.find(id);
            if (it == flights_.end()) return;
            f = std::move(it->second);
            flights_.erase(it);
            ranks_[static_cast<std::size_t>(f.rank)].in_flight--;
        }
        complete(f.call, status, r);
        f.owner->call_done(f.call);
    }

    // ---- alone: in this process, on the default thread pool

    void run_here(remote_call* c, const std::shared_ptr<mpi_executor_state>& owner) noexcept {
        if (!c->job->start()) {  // cancelled before a thread took it
            owner->call_done(c);
            return;
        }
        std::int64_t deadline = deadline_of(c);
        if (deadline >= 0) {
            std::lock_guard lock(m_);
            flights_.emplace(c->id, flight{c, owner, -1, deadline});
            wake_.notify_one();
        }
        resolved_call call;
        if (c->named) {
            const function_entry* e = function_at(static_cast<std::uint32_t>(c->a));
            call.invoke = e->invoke;
            call.fn = e->fn;
        } else {
            call.invoke = reinterpret_cast<remote_invoker>(c->a);
            call.fn = c->b;
        }
        // Through the codec both ways, as on a serving rank, so that a
        // program behaves the same alone and on many ranks.
        byte_reader args(c->request.data(), c->request.size());
        byte_writer out;
        reply_status status = run_call(call, args, out);
        if (deadline >= 0) {
            std::lock_guard lock(m_);
            flights_.erase(c->id);
        }
        byte_reader payload(out.bytes().data(), out.bytes().size());
        complete(c, status, payload);
        owner->call_done(c);
    }

    // remote_call::stop for a call sent to a rank: asks the rank to drop it.
    // (If the submitting thread is still sending the call, the cancel may
    // overtake it, MPI ordering only one thread's messages: the rank then
    // runs the call, whose result is dropped here.)
    static void stop_call(remote_call* c) noexcept {
        mpi_client& self = get();
        {
            std::lock_guard lock(self.m_);
            self.cancel_requests_.push_back(c->id);
        }
        self.wake_.notify_one();
    }

    std::mutex m_;
    std::condition_variable wake_;
    bool alone_ = true;
    bool ended_ = false;                          // guarded by m_
    std::deque<queued> queue_;                    // guarded by m_
    std::map<std::uint64_t, flight> flights_;     // guarded by m_
    std::vector<std::uint64_t> cancel_requests_;  // guarded by m_
    std::vector<rank_info> ranks_;                // guarded by m_
    std::list<outgoing> posted_;                  // sent by submit(); guarded by m_
    std::list<outgoing> sending_;                 // the thread's own
    bool direct_ = false;                         // MPI_THREAD_MULTIPLE: submit() may send itself
    std::atomic<std::uint64_t> next_id_{1};
    code_address self_;
    std::thread thread_;
    static inline std::atomic<mpi_client*> made_{nullptr};
};

}  // namespace

void mpi_client_before_finalize(const mpi_world& world) noexcept {
    if (world.rank != 0 || world.size == 1) return;
    if (mpi_client* client = mpi_client::made_client()) client->before_finalize();
    // The serving ranks leave mpi_serve (an empty message each: it fits
    // MPI's eager path, so the send completes at once even if a rank never
    // called mpi_serve and never receives it).
    MPI_Comm comm = mpi_comm();
    for (int r = 1; r < world.size; ++r)
        MPI_Send(nullptr, 0, MPI_BYTE, r, tag_stop, comm);
}

}  // namespace detail

mpi_executor::mpi_executor() {
    const mpi_world& world = mpi_current();  // logic_error before mpi_init
    if (world.rank != 0) {
        throw std::logic_error("weft::mpi_executor: rank " + std::to_string(world.rank) +
                               " serves calls (weft::mpi_serve); only rank 0 makes an executor");
    }
    if (world.size > 1 && world.thread_level < mpi_thread_level::serialized) {
        throw std::runtime_error(
            "weft::mpi_executor: MPI granted only MPI_THREAD_" +
            std::string(to_string(world.thread_level)) +
            ", and the executor's progress thread needs MPI_THREAD_SERIALIZED or more");
    }
    state_ = std::make_shared<detail::mpi_executor_state>();
    state_->serving_ranks = world.size - 1;
}

mpi_executor::~mpi_executor() {
    {
        std::lock_guard lock(state_->m);
        if (state_->shut && !state_->wait_on_destroy) return;
    }
    shutdown(true);
}

void mpi_executor::enqueue(detail::remote_call* c) {
    if (event_loop::current() == nullptr) {
        detail::release(c);
        throw no_running_loop_error();
    }
    {
        std::lock_guard lock(state_->m);
        if (state_->shut) {
            detail::release(c);
            throw executor_shutdown_error(
                "weft::mpi_executor: cannot schedule new work after shutdown");
        }
        state_->calls.insert(c);
    }
    try {
        detail::mpi_client::get().submit(c, state_);
    } catch (...) {
        state_->call_done(c);
        throw;
    }
}

void mpi_executor::shutdown(bool wait, bool cancel_futures) {
    {
        std::lock_guard lock(state_->m);
        state_->shut = true;
        if (!wait) state_->wait_on_destroy = false;
    }
    if (cancel_futures) state_->cancel_unstarted();
    if (wait) {
        std::unique_lock lock(state_->m);
        state_->idle.wait(lock, [this] { return state_->calls.empty(); });
    }
}

bool mpi_executor::is_shutdown() const noexcept {
    std::lock_guard lock(state_->m);
    return state_->shut;
}

int mpi_executor::serving_ranks() const noexcept {
    return state_->serving_ranks;
}

}  // namespace weft

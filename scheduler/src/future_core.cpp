// Completion, cancellation and diagnostics shared by futures and tasks.
#include <exception>
#include <new>

#include <weft/detail/future_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/event_loop.hpp>

namespace weft::detail {

namespace {

// Routes a diagnostic to the handler of `loop` when it is the loop running on
// this thread, else to the default handler (the loop may be gone).
void report(event_loop* loop, exception_context ctx) noexcept {
    event_loop* cur = tls_ctx.loop;
    if (cur != nullptr && cur == loop) {
        cur->call_exception_handler(ctx);
    } else {
        event_loop::default_exception_handler(ctx);
    }
}

}  // namespace

void future_core::destroy_slow() noexcept {
    std::uint32_t fl = flags(std::memory_order_relaxed);
    if ((fl & f_has_exception) && !(fl & f_retrieved)) {
        try {
            exception_context ctx;
            ctx.message = (fl & f_is_task) ? "Task exception was never retrieved"
                                           : "Future exception was never retrieved";
            ctx.exception = exception_unchecked();
            if (fl & f_is_task) ctx.task_name = static_cast<task_record*>(this)->name();
            report(loop_, std::move(ctx));
        } catch (...) {
            // Reporting must not throw out of a destructor; out of memory here
            // only loses the message.
        }
    }
    // Callbacks of a future that never completed: nobody will run them.
    done_node* n = done_list_.load(std::memory_order_acquire);
    while (n != nullptr && n != closed()) {
        done_node* next = n->next;
        if (n->on_done == &callback_node::schedule_on_done)
            static_cast<callback_node*>(n)->release();
        n = next;
    }
    delete extras_;
    extras_ = nullptr;
}

void future_core::set_cancel_message_claimed(const std::string* message) {
    if (message != nullptr) {
        future_extras& ex = extras();
        ex.cancel_message = *message;
        ex.has_cancel_message = true;
    }
}

void future_core::publish(std::uint32_t outcome) noexcept {
    WEFT_ASSERT(((outcome & f_done_mask) == f_finished) != ((outcome & f_done_mask) == f_cancelled),
                "a future ends finished or cancelled, not both");
    WEFT_ASSERT(!(outcome & ~f_outcome_mask), "publish sets outcome bits only");
    WEFT_ASSERT(!(outcome_.load(std::memory_order_relaxed) & f_done_mask),
                "a future is published once");
    WEFT_ASSERT((flags_.load(std::memory_order_relaxed) & f_completing) || is_task(),
                "a future is published by the completer that claimed it (try_claim); a "
                "task only by its own step");
    // A plain store: only the one completer writes the outcome. release:
    // pairs with the acquire loads of done()/flags(), so that whoever sees
    // the outcome also sees the result stored before it. The exchange below
    // (seq_cst) keeps it ahead of closing the list: an awaiter that finds the
    // list closed sees the outcome (add_done_node's acquire).
    outcome_.store(static_cast<std::uint16_t>(outcome), std::memory_order_release);
    // seq_cst: part of the handshake with a remover (remove_done_nodes_if):
    // after closing the list, look at its lock; if held, wait for its unlinks.
    done_node* head = done_list_.exchange(closed(), std::memory_order_seq_cst);
    if (flags_.load(std::memory_order_seq_cst) & f_cb_lock) {
        // acquire: pairs with unlock_callbacks()'s release.
        while (flags_.load(std::memory_order_acquire) & f_cb_lock)
            __builtin_ia32_pause();
    }
    // The list is a stack; run it in registration order, as asyncio does.
    done_node* fifo = nullptr;
    while (head != nullptr) {
        done_node* next = head->next;
        head->next = fifo;
        fifo = head;
        head = next;
    }
    while (fifo != nullptr) {
        done_node* next = fifo->next;  // read first: on_done may end the node's life
        fifo->on_done(fifo, this);
        fifo = next;
    }
}

bool future_core::cancel_plain(const std::string* message) {
    if (!try_claim()) return false;
    set_cancel_message_claimed(message);
    publish(f_cancelled);
    return true;
}

cancelled_error future_core::make_cancelled_error() const {
    const future_extras* ex = extras_;
    if (ex != nullptr && ex->has_cancel_message) return cancelled_error(ex->cancel_message);
    return cancelled_error();
}

void future_core::rethrow_failure(std::uint32_t fl, const char* what) {
    if (!(fl & f_done_mask)) throw invalid_state_error(std::string(what) + ": result is not set");
    if (fl & f_cancelled) throw make_cancelled_error();
    mark_retrieved();
    std::rethrow_exception(exception_unchecked());
}

void future_core::store_exception(std::exception_ptr e) noexcept {
    try {
        extras().exception = std::move(e);
    } catch (...) {
        // Out of memory for the extras: exception_unchecked() says so.
    }
}

const std::exception_ptr& future_core::exception_unchecked() const noexcept {
    if (extras_ != nullptr && extras_->exception) return extras_->exception;
    static const std::exception_ptr none;
    if (!(flags(std::memory_order_relaxed) & (f_has_exception | f_threw))) return none;
    // Failed, but store_exception could not keep the exception.
    static const std::exception_ptr out_of_memory = std::make_exception_ptr(std::bad_alloc());
    return out_of_memory;
}

future_extras& future_core::extras() {
    if (extras_ == nullptr) extras_ = new future_extras;
    return *extras_;
}

void future_core::lock_callbacks() noexcept {
    // seq_cst: the handshake with publish() (see remove_done_nodes_if).
    while (flags_.fetch_or(f_cb_lock, std::memory_order_seq_cst) & f_cb_lock) {
        while (flags_.load(std::memory_order_relaxed) & f_cb_lock)
            __builtin_ia32_pause();
    }
}

void callback_node::schedule_on_done(done_node* self, future_core* f) noexcept {
    auto* node = static_cast<callback_node*>(self);
    f->add_ref();  // released when the node is destroyed after running
    node->target = f;
    // asyncio: the future's loop.call_soon(callback, future).
    event_loop* loop = f->loop();
    if (loop == nullptr) loop = tls_ctx.loop;
    if (loop == nullptr) {
        // No loop to run it on (a future completed by a plain thread outside
        // any loop): run it right here rather than lose it.
        try {
            node->invoke(node);
        } catch (...) {
            event_loop::default_exception_handler(
                exception_context{"Exception in done callback", std::current_exception(), {}});
        }
        node->release();
    } else {
        event_loop::schedule(loop, event_loop::tag_callback(node), false);
    }
}

}  // namespace weft::detail

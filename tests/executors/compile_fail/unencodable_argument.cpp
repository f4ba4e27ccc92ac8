// Must not compile: a type without a weft::codec (not trivially copyable).
#include <memory>

#include <weft/weft.hpp>

struct session {
    std::unique_ptr<int> state;
};

int use(const session& s) {
    return s.state ? 1 : 0;
}

weft::task<void> f(weft::process_pool_executor& pool) {
    co_await pool.submit(use, session{});
}

// Must not compile: a worker process cannot receive a lambda's captures.
#include <weft/weft.hpp>

weft::task<void> f(weft::process_pool_executor& pool) {
    int base = 40;
    co_await pool.submit([base](int x) { return base + x; }, 2);
}

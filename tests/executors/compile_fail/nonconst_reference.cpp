// Must not compile: the worker cannot write back into this process's objects.
#include <weft/weft.hpp>

void fill(int& out) {
    out = 1;
}

weft::task<void> f(weft::process_pool_executor& pool) {
    int v = 0;
    co_await pool.submit(fill, v);
}

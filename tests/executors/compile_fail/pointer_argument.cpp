// Must not compile: a pointer cannot be sent to a worker process (it would
// point into the worker's own copy of memory).
#include <weft/weft.hpp>

int length(const char* s);

weft::task<void> f(weft::process_pool_executor& pool) {
    static int x = 0;
    co_await pool.submit(
        +[](int* p) { return *p; }, &x);
}

#!/usr/bin/python3
"""Python's side of the process-pool round trip (weft-bench --bench process_rtt).

From a coroutine, K sequential round trips to a ProcessPoolExecutor running a
trivial function, as `await loop.run_in_executor(pool, plus_one, i)`; and the
same without asyncio, `pool.submit(plus_one, i).result()`, Python's fastest
way. Prints SPEC-style result lines (us per round trip):

    peer=asyncio bench=process_rtt threads=1 value=... unit=us/rtt n=K
    peer=python_submit bench=process_rtt threads=1 value=... unit=us/rtt n=K

Run with Debian's /usr/bin/python3:  bench/process_pool_rtt.py [--n K] [--mode asyncio|submit|both]
"""

import argparse
import asyncio
import concurrent.futures
import sys
import time


def plus_one(x):
    return x + 1


def emit(peer, value, k):
    print(f"peer={peer} bench=process_rtt threads=1 value={value:.3f} unit=us/rtt n={k}", flush=True)


def check(total, k):
    want = k * (k + 1) // 2
    if total != want:
        print(f"process_rtt: sum {total}, want {want}", file=sys.stderr)
        sys.exit(1)


async def via_asyncio(k):
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor() as pool:  # one worker per core, like weft's
        await loop.run_in_executor(pool, plus_one, 0)  # start a worker
        total = 0
        t0 = time.perf_counter()
        for i in range(k):
            total += await loop.run_in_executor(pool, plus_one, i)
        wall = time.perf_counter() - t0
    check(total, k)
    emit("asyncio", wall * 1e6 / k, k)


def via_submit(k):
    with concurrent.futures.ProcessPoolExecutor() as pool:
        pool.submit(plus_one, 0).result()
        total = 0
        t0 = time.perf_counter()
        for i in range(k):
            total += pool.submit(plus_one, i).result()
        wall = time.perf_counter() - t0
    check(total, k)
    emit("python_submit", wall * 1e6 / k, k)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="round trips (default 20000)")
    ap.add_argument("--mode", choices=["asyncio", "submit", "both"], default="both")
    args = ap.parse_args()
    if args.mode in ("asyncio", "both"):
        asyncio.run(via_asyncio(args.n))
    if args.mode in ("submit", "both"):
        via_submit(args.n)


if __name__ == "__main__":
    main()

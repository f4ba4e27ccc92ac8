# Pins: two cancel() calls on a task suspended in an await, made before it resumes, are one
# cancellation. Both return True and cancelling() counts both, but the task sees a single
# CancelledError, carrying the first message; after one uncancel() its next await goes
# through (a sleep, a lock, an event, a future alike). A task awaiting another task passes
# each cancel on to it, and the inner task also sees one. A cancel made after the task has
# seen the first is a new one and is delivered again.
import asyncio


async def waiter(name, wait):
    try:
        await wait()
        print(name, "never printed")
    except asyncio.CancelledError as e:
        me = asyncio.current_task()
        print(f"{name} caught CancelledError: {e} (cancelling={me.cancelling()})")
        print(f"{name} uncancel() returned {me.uncancel()}")
    try:
        await asyncio.sleep(0)
        print(f"{name} next await went through")
    except asyncio.CancelledError:
        print(f"{name} next await raised CancelledError again")
    return name


async def outer_waiter(inner):
    try:
        return await inner
    finally:
        print("outer: inner done, cancelled:", inner.cancelled())


async def main():
    loop = asyncio.get_running_loop()
    lock = asyncio.Lock()
    await lock.acquire()
    event = asyncio.Event()
    fut = loop.create_future()
    waits = [
        ("sleep", lambda: asyncio.sleep(10)),
        ("lock", lock.acquire),
        ("event", event.wait),
        ("future", lambda: fut),
    ]
    for name, wait in waits:
        t = asyncio.create_task(waiter(name, wait))
        await asyncio.sleep(0.1)
        first = t.cancel("first")
        second = t.cancel("second")
        print(f"{name}: cancel returned {first}, {second}; cancelling={t.cancelling()}")
        result = await t
        print(f"{name}: task returned {result}, cancelled: {t.cancelled()}")
    print("future cancelled:", fut.cancelled())

    inner = asyncio.create_task(waiter("inner", lambda: asyncio.sleep(10)))
    outer = asyncio.create_task(outer_waiter(inner))
    await asyncio.sleep(0.1)
    first = outer.cancel("first")
    second = outer.cancel("second")
    print(f"outer: cancel returned {first}, {second}; "
          f"cancelling={outer.cancelling()}, inner cancelling={inner.cancelling()}")
    result = await outer
    print(f"outer: returned {result}, cancelled: {outer.cancelled()}")

    again = asyncio.create_task(waiter("again", lambda: asyncio.sleep(10)))
    await asyncio.sleep(0.1)
    print("again: cancel returned", again.cancel("first"))
    await asyncio.sleep(0)  # it catches the first one and waits again
    print("again: cancel returned", again.cancel("later"))
    result = await again
    print(f"again: task returned {result}, cancelling={again.cancelling()}")


asyncio.run(main())

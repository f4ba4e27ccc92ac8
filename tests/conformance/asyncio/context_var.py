# Pins: contextvars and tasks. create_task gives a task a copy of its creator's
# context (values set before the call are seen, values set after are not); what
# a task sets is not seen by its creator and is kept across its suspensions;
# ContextVar.get's default and LookupError; reset() with tokens (restores the
# old value or unsets, a token used twice, a token of another variable or from
# another context); call_soon runs a callback in the context current when it
# was scheduled; copy_context().run keeps the changes in that context.
import asyncio
import contextvars

request_id = contextvars.ContextVar("request_id")
depth = contextvars.ContextVar("depth", default=0)


async def child(name):
    print(name, "sees", request_id.get(), depth.get())
    depth.set(depth.get() + 1)
    await asyncio.sleep(0.1)
    print(name, "after sleep", request_id.get(), depth.get())
    if depth.get() < 2:
        t = asyncio.create_task(child(name + ".1"))
        print(name, "child returned", await t)
    return depth.get()


async def use_token(token):
    try:
        request_id.reset(token)
    except ValueError:
        print("reset in another context: ValueError")


async def main():
    try:
        request_id.get()
    except LookupError:
        print("unset: LookupError")
    print("defaults:", request_id.get("none"), depth.get())

    token = request_id.set("req-1")
    t = asyncio.create_task(child("c1"))
    request_id.set("req-2")
    r = await t
    print("main sees", request_id.get(), depth.get(), "c1 returned", r)

    await asyncio.create_task(use_token(token))
    try:
        depth.reset(token)
    except ValueError:
        print("reset with another variable's token: ValueError")
    request_id.reset(token)
    print("after reset:", request_id.get("unset"))
    try:
        request_id.reset(token)
    except RuntimeError:
        print("token used twice: RuntimeError")

    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def callback():
        print("callback sees", request_id.get("unset"))
        request_id.set("from-callback")
        done.set_result(None)

    request_id.set("req-3")
    loop.call_soon(callback)
    request_id.set("req-4")
    await done
    print("main sees", request_id.get())

    ctx = contextvars.copy_context()

    def in_ctx(suffix):
        request_id.set(request_id.get() + suffix)
        return request_id.get()

    print("ctx.run:", ctx.run(in_ctx, "-ctx"), "outside:", request_id.get())
    print("ctx keeps:", ctx[request_id], ctx.run(in_ctx, "-again"))


asyncio.run(main())

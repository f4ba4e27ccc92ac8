# Pins: loop.add_reader calls its callback in the iteration after data arrived, behind the
# callbacks queued before that iteration's poll; a second add_reader for the same fd replaces the
# callback; add_writer on a writable socket fires at once; remove_writer/remove_reader return True
# when a callback was registered and False after; once removed, nothing more is called. (No
# times: the order alone says it all, and stays the same on a loaded machine.)
import asyncio
import socket


async def main():
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    done = loop.create_future()

    def first():
        print("first reader called")  # never: replaced below

    def on_readable():
        data = b.recv(100).decode()
        print(f"read {data}")
        if data == "three":
            done.set_result(None)

    loop.add_reader(b.fileno(), first)
    loop.add_reader(b.fileno(), on_readable)

    wrote = loop.create_future()

    def on_writable():
        print("writable")
        print("remove_writer", loop.remove_writer(a.fileno()))
        wrote.set_result(None)

    loop.add_writer(a.fileno(), on_writable)
    await wrote
    print("remove_writer again", loop.remove_writer(a.fileno()))

    for word in ["one", "two", "three"]:
        await asyncio.sleep(0.1)
        a.send(word.encode())
        loop.call_soon(print, f"soon after {word}")
        print(f"sent {word}")
    await done
    print("remove_reader", loop.remove_reader(b.fileno()))
    print("remove_reader again", loop.remove_reader(b.fileno()))
    a.send(b"ignored")
    await asyncio.sleep(0.1)
    print("end")
    a.close()
    b.close()


asyncio.run(main())

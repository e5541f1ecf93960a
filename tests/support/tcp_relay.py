"""A TCP relay on 127.0.0.1 that adds latency: a store far away, on loopback (this kernel has no
netem). Each chunk read from one side is written to the other DELAY_MS after it arrived, in
order, so each direction adds DELAY_MS and a round trip 2 x DELAY_MS, while many requests can be in
flight at once (the delay is not a queue). Bytes are forwarded unchanged (TLS passes through).

Usage: tcp_relay.py UPSTREAM_HOST:PORT[,DELAY_MS]
Prints "READY <port>", then "OPEN <connection> <connections open now>" and "CLOSE <connection>".
"""

import asyncio
import sys

upstream, _, delay = sys.argv[1].partition(",")
HOST, PORT = upstream.rsplit(":", 1)
DELAY = int(delay or "0") / 1000.0
state = {"next": 0, "open": 0}


async def pipe(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def read():
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + DELAY, data))
            if not data:
                return

    async def write():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
                return
            writer.write(data)
            await writer.drain()

    try:
        await asyncio.gather(read(), write())
    except (ConnectionError, OSError):
        pass


async def handle(client_r, client_w):
    state["next"] += 1
    n = state["next"]
    state["open"] += 1
    print(f"OPEN {n} {state['open']}", flush=True)
    try:
        up_r, up_w = await asyncio.open_connection(HOST, int(PORT))
        await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))
        up_w.close()
    except (ConnectionError, OSError):
        pass
    finally:
        client_w.close()
        state["open"] -= 1
        print(f"CLOSE {n}", flush=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())

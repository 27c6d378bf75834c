"""A delaying TCP proxy: every byte is forwarded ``delay`` later, in order, in both directions.

This kernel has no ``netem`` qdisc (``tc`` answers "Specified qdisc kind is unknown"), so the
multi-host test adds wide-area latency here instead: each host's node is advertised at the
proxy's address, so every connection to it crosses one proxy and sees ``delay`` each way.

Run inside a network namespace::

    python delay_proxy.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS

It prints ``ready`` once listening and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Forward what ``reader`` yields to ``writer``, each chunk ``delay`` seconds after it arrived."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()
        writer.close()


async def main(listen_host: str, listen_port: int, target_host: str, target_port: int, delay_ms: int) -> None:
    delay = delay_ms / 1000

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, listen_host, listen_port, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    host, port, target, target_port, delay_ms = sys.argv[1:6]
    asyncio.run(main(host, int(port), target, int(target_port), int(delay_ms)))

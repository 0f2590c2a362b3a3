"""Run inside a container by the Docker tests (``python docker_relay.py DIR``): serves each
``DIR/PORT.sock`` on TCP port PORT of the container's network, so the bot's containers
reach the test's doubles by name ("doubles:PORT") on their Compose network. The sockets'
other ends are in the test process on the host (tests/docker_harness.py), which forwards
them to its doubles on 127.0.0.1: no traffic leaves the host's loopback. Standard library
only; writes ``/tmp/relay-ready`` once every port listens (the service's healthcheck).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

READY = Path("/tmp/relay-ready")


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            await writer.drain()


async def relay(socket: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        up_reader, up_writer = await asyncio.open_unix_connection(str(socket))
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    for w in (writer, up_writer):
        w.close()


async def main(directory: Path) -> None:
    servers = []
    for socket in sorted(directory.glob("*.sock")):

        async def handle(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, socket: Path = socket
        ) -> None:
            await relay(socket, reader, writer)

        servers.append(await asyncio.start_server(handle, "0.0.0.0", int(socket.stem)))
    READY.touch()
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))

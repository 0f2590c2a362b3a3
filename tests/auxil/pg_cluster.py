"""A PostgreSQL server of a test's own (initdb, pg_ctl), which the test may stop and start
again: a real outage, as a restarting or failed-over database gives the bot, without
touching the server other tests share. Skips the test where PostgreSQL's server programs
are not installed."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PgCluster:
    def __init__(self, bindir: Path, directory: Path, port: int) -> None:
        self._bindir = bindir
        self._dir = directory
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *argv: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*as_postgres, *argv], check=True, capture_output=True, cwd=self._dir, timeout=60
        )

    def init(self) -> None:
        self._run(
            str(self._bindir / "initdb"), "-D", str(self._dir / "data"), "-U", "postgres",
            "--auth=trust", "--no-sync",
        )  # fmt: skip

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self._bindir / "pg_ctl"), "-D", str(self._dir / "data"), "-o", options,
            "-l", str(self._dir / "log"), "-w", *args,
        )  # fmt: skip

    async def start(self) -> None:
        await asyncio.to_thread(self._ctl, "start")

    async def stop(self) -> None:
        """A fast shutdown: open connections are cut, new ones refused."""
        await asyncio.to_thread(self._ctl, "-m", "fast", "stop")


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    """A stopped cluster, initialised (start it with :meth:`PgCluster.start`); removed
    afterwards, stopped first if it runs."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    directory = Path(tempfile.mkdtemp(prefix="voicebot-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cluster = PgCluster(bindir, directory, port)
    try:
        cluster.init()
        yield cluster
    finally:
        if (directory / "data" / "postmaster.pid").exists():
            cluster._ctl("-m", "immediate", "stop")
        shutil.rmtree(directory, ignore_errors=True)

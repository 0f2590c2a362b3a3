"""One PostgreSQL database, one connection pool, shared by the concerns stored in it;
several bot replicas may use it at once.

Lease times are the database's clock, so replicas whose clocks disagree still agree on
whose lease ran out. Migrations run under an advisory lock, so replicas starting
together migrate once.
"""

from __future__ import annotations

import asyncpg

from bot.storage.postgres.migrations import migrate

LEASE = "now() + make_interval(secs => {})"
"""A lease that ends ``{}`` seconds (a query parameter) from now, by the database's clock."""


class PostgresDatabase:
    """Open with :meth:`open` (a DSN: ``postgresql://user:password@host:5432/db``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, dsn: str, *, max_connections: int = 10) -> PostgresDatabase:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=max_connections, command_timeout=15
        )
        try:
            await migrate(pool)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def purge(self, table: str, delete: str, *args: object) -> int:
        """Delete, then VACUUM the table if rows went. A deleted row stays in the table's
        pages as a dead tuple until a VACUUM prunes it, and autovacuum comes only once 50
        rows and a fifth of the table are dead (or never, where it is off). Plain VACUUM
        blocks no reads or writes; it frees the space for reuse without zeroing it
        (README, Privacy), the table's TOAST table (long transcripts) included. It cannot
        run in a transaction, hence a statement of its own; SKIP_LOCKED: where another
        VACUUM (another replica's, autovacuum) is at work on the table, it does not wait."""
        deleted = changed(await self.pool.execute(delete, *args))
        if deleted:
            await self.pool.execute(f"VACUUM (SKIP_LOCKED) {table}")
        return deleted


def changed(status: str) -> int:
    """How many rows a statement changed, from its status (``DELETE 3``)."""
    return int(status.split()[-1])

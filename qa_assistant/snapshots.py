"""Read snapshots: each thread reads an index version through its own SQLite connection, inside
a read transaction that it keeps from one `begin` to the next.

A search reads the index several times (vector and word candidates, their passages, their
neighbours, their documents). In WAL mode a read transaction sees one committed state however
many commits other threads and processes make meanwhile, so those reads never mix two versions
of a document. The store calls every method here under its own lock, which is also what makes
ending another thread's transaction safe.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# A snapshot older than this is ended by the next `begin` of any thread. Searches take seconds;
# an idle thread's snapshot would otherwise keep SQLite from checkpointing the WAL past it.
SNAPSHOT_SECONDS = 120.0


@dataclass
class Snapshot:
    """One thread's connection and the generation its open read transaction sees."""

    connection: sqlite3.Connection
    generation: int | None = None  # None: no read transaction open
    started: float = 0.0

    def end(self) -> None:
        """Close the read transaction (the connection stays open for the next one)."""
        self.generation = None
        if self.connection.in_transaction:
            self.connection.execute("COMMIT")


class ThreadSnapshots:
    """The read snapshots of one index version, one per thread (the caller holds its lock)."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], read_generation: Callable[..., int]
    ):
        """Args:
        connect: opens a new connection to the version's database.
        read_generation: the generation a connection sees (its first read in a transaction
            fixes the snapshot).
        """
        self._connect = connect
        self._read_generation = read_generation
        self._by_thread: dict[int, Snapshot] = {}

    def begin(self) -> Snapshot | None:
        """End this thread's snapshot and open a new one on the latest commit.

        None when no connection can be opened (the version was deleted by a rebuild a moment
        ago); the caller then reads without a snapshot, as before snapshots existed.
        """
        # Registers a thread started outside `threading` too, so that `_end_stale` sees it alive.
        ident = threading.current_thread().ident or threading.get_ident()
        self._end_stale()
        snapshot = self._by_thread.get(ident)
        if snapshot is None:
            try:
                snapshot = Snapshot(self._connect())
            except sqlite3.Error as exc:
                logger.info("no read snapshot (%s); reading the latest state", exc)
                return None
            self._by_thread[ident] = snapshot
        snapshot.end()
        snapshot.connection.execute("BEGIN")
        snapshot.generation = self._read_generation(snapshot.connection)
        snapshot.started = time.monotonic()
        return snapshot

    def current(self) -> Snapshot | None:
        """This thread's open snapshot, if any."""
        snapshot = self._by_thread.get(threading.get_ident())
        return snapshot if snapshot is not None and snapshot.generation is not None else None

    def end_own(self) -> None:
        """End this thread's snapshot (before it writes: its reads must see its own writes)."""
        snapshot = self._by_thread.get(threading.get_ident())
        if snapshot is not None:
            snapshot.end()

    def close(self) -> None:
        """Close every connection."""
        for snapshot in self._by_thread.values():
            snapshot.connection.close()
        self._by_thread.clear()

    def _end_stale(self) -> None:
        """Close the connections of threads that ended; end snapshots older than the limit."""
        alive = {thread.ident for thread in threading.enumerate()}
        now = time.monotonic()
        for ident, snapshot in list(self._by_thread.items()):
            if ident not in alive:
                snapshot.connection.close()
                del self._by_thread[ident]
            elif snapshot.generation is not None and now - snapshot.started > SNAPSHOT_SECONDS:
                snapshot.end()

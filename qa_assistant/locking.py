"""One writer per index across processes: an OS file lock on `INDEX_DIR/write.lock`.

`fcntl.flock` locks belong to the open file, so the OS releases them when the holder ends,
however it ends (SIGKILL included): a killed writer never blocks the next one, and there is no
stale lock file to delete. Readers never take the lock: SQLite transactions and their read
snapshots (qa_assistant.snapshots) keep what they read whole. POSIX only, like the rest of the
index (atomic renames over open files).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa_assistant.errors import QAError

logger = logging.getLogger(__name__)

LOCK_FILE = "write.lock"
# How long a writer waits for another one. Adding hours of recordings takes minutes per file,
# so waiting is the better default; past this the user decides.
WAIT_SECONDS = 600.0
POLL_SECONDS = 0.2  # how often a waiting writer tries again (flock cannot time out by itself)


class WriteLockTimeoutError(QAError):
    """Another process kept writing to the index for longer than a writer waits."""


@contextmanager
def write_lock(index_dir: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the index's write lock; wait (saying so on the log) while another process holds it.

    Args:
        timeout: seconds to wait before giving up; default WAIT_SECONDS.

    Raises:
        WriteLockTimeoutError: the other writer did not finish in time.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        _acquire(descriptor, index_dir, WAIT_SECONDS if timeout is None else timeout)
        # The holder's pid, for the message of the next writer (informative only: the lock
        # itself is the flock, never the file's contents).
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _acquire(descriptor: int, index_dir: Path, timeout: float) -> None:
    if _try_lock(descriptor):
        return
    holder = _holder(descriptor)
    logger.warning(
        "another qa-assistant process is writing to %s (pid %s); waiting…",
        index_dir,
        holder or "unknown",
    )
    started = time.monotonic()
    deadline = started + timeout
    while not _try_lock(descriptor):
        if time.monotonic() >= deadline:
            raise WriteLockTimeoutError(
                f"another qa-assistant process (pid {_holder(descriptor) or holder or 'unknown'})"
                f" has been writing to {index_dir} for over {timeout:.0f} s: let it finish,"
                " or stop it if it hangs (a stopped writer leaves the index as it was before its"
                " current file), then run this command again"
            )
        time.sleep(POLL_SECONDS)
    logger.info("got the write lock of %s after %.1f s", index_dir, time.monotonic() - started)


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(descriptor: int) -> str:
    """The pid the current holder wrote into the lock file ('' when it has not yet)."""
    try:
        return os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""

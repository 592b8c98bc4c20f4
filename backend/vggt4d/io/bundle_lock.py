"""One writer per bundle: an exclusive lock held while a bundle is rewritten in place.

Two `vggt4d solve` runs on one bundle would both read it, both solve and both publish: the
last one wins and the first one's success is a lie. The lock is an OS file lock (`fcntl.flock`,
`msvcrt.locking` on Windows) on `.<name>.lock` beside the bundle (not inside: publishing
renames the bundle folder away). The operating system drops the lock when its process dies, so
a killed writer never blocks the next one; the pid written into the file only names the holder
in the error. Re-entrant within a process (a solve holds it and its `write_bundle` takes it
again).
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from vggt4d.errors import BundleError

_held: dict[Path, int] = {}  # lock file -> how many times this process holds it


def lock_path(bundle: str | Path) -> Path:
    """The lock file of the bundle at `bundle`: `.<name>.lock` in the same folder."""
    final = Path(os.path.abspath(Path(bundle).expanduser()))
    return final.parent / f".{final.name}.lock"


@contextlib.contextmanager
def bundle_lock(bundle: str | Path) -> Iterator[None]:
    """Hold the bundle's exclusive lock for the `with` block; fail fast when another process
    holds it: BundleError "bundle X is being changed by another process (pid N)"."""
    path = lock_path(bundle)
    if path in _held or not path.parent.is_dir():  # re-entered, or no folder: no bundle there
        _held[path] = _held.get(path, 0) + 1
        try:
            yield
        finally:
            _held[path] -= 1
            if not _held[path]:
                del _held[path]
        return
    descriptor = _acquire(path, bundle)
    _held[path] = 1
    try:
        yield
    finally:
        del _held[path]
        with contextlib.suppress(OSError):
            os.unlink(path)  # still locked: a waiting opener re-checks the inode (_acquire)
        _unlock(descriptor)
        os.close(descriptor)


def _acquire(path: Path, bundle: str | Path) -> int:
    """Open and lock `path`; retry when the file was unlinked by its releasing holder between
    our open and our lock (we would hold a lock on a file nobody else can see)."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(descriptor):
            holder = _holder(descriptor)
            os.close(descriptor)
            raise BundleError(
                f"bundle {Path(bundle)} is being changed by another process (pid {holder}); "
                "wait for it to finish, or stop it, and try again"
            )
        try:
            same = os.fstat(descriptor).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, str(os.getpid()).encode("ascii"))
            return descriptor
        _unlock(descriptor)
        os.close(descriptor)


def _holder(descriptor: int) -> str:
    """The pid the holder wrote into the lock file ("unknown" when unreadable)."""
    try:
        return os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
    except OSError:  # Windows locks are mandatory: the holder's byte cannot be read
        return "unknown"


if os.name == "nt":
    import msvcrt

    def _try_lock(descriptor: int) -> bool:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        os.lseek(descriptor, 0, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)

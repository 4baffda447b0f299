"""Atomic file writes: write a temporary file in the same folder, fsync, then rename.

A crash or a full disk mid-write leaves the previous file intact, never a half-written one.
"""
from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where the
    system or the file system cannot."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def restore_hidden_copy(final_dir: str | os.PathLike) -> Path | None:
    """Put back what a replace killed between its two renames left hidden.

    `atomic_replace_dir` falls back to two renames where the system cannot swap two folders in
    one step; a crash between them leaves the previous folder only as `.NAME.old-PID`. If
    final_dir is missing and such a copy exists (of a process no longer running), it is moved
    back and its path returned. Stale copies beside an existing final_dir are removed."""
    final_dir = Path(final_dir)
    parent = final_dir.parent
    if not parent.is_dir():
        return None
    leftovers = []
    for p in parent.glob(f".{glob.escape(final_dir.name)}.old-*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and p.is_dir() and not _pid_alive(int(pid)):
            leftovers.append(p)
    if not leftovers:
        return None
    restored = None
    if not os.path.lexists(final_dir):
        newest = max(leftovers, key=lambda p: p.stat().st_mtime)
        try:
            os.rename(newest, final_dir)
        except OSError:
            return None
        leftovers.remove(newest)
        restored = final_dir
    for p in leftovers:
        shutil.rmtree(p, ignore_errors=True)
    return restored


def atomic_replace_dir(tmp_dir: str | os.PathLike, final_dir: str | os.PathLike) -> None:
    """Move a fully written folder into place; the old folder is removed only afterwards.

    Where the system allows, the two folders swap in one atomic step, so final_dir always
    names either the old or the new folder. Elsewhere it takes two renames; a crash between
    them leaves the old folder as `.NAME.old-PID`, which `restore_hidden_copy` (called by the
    next write and by the bundle loader) puts back."""
    tmp_dir, final_dir = Path(tmp_dir), Path(final_dir)
    restore_hidden_copy(final_dir)
    if not os.path.lexists(final_dir):
        os.replace(tmp_dir, final_dir)
        return
    if final_dir.is_symlink() or not final_dir.is_dir():
        raise IsADirectoryError(f"{final_dir} is not a folder; refusing to replace it")
    old = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
    if os.path.lexists(old):
        shutil.rmtree(old)
    if _exchange(tmp_dir, final_dir):
        shutil.rmtree(tmp_dir, ignore_errors=True)  # tmp_dir now holds the old folder
        return
    os.replace(final_dir, old)
    try:
        os.replace(tmp_dir, final_dir)
    except BaseException:
        os.replace(old, final_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)

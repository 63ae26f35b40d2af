"""Crash-safe writes: a file or a directory appears whole or not at all.

Every output aekit writes goes through here. A file is written to a temporary name beside the
target, flushed to disk (``fsync``) and renamed over it; a directory (a model, an index) is
built the same way and swapped in with two renames:

1. ``NAME`` -> ``.NAME.aekit-old-HOST-PID-RAND`` (only when ``NAME`` exists),
2. ``.NAME.aekit-new-HOST-PID-RAND`` -> ``NAME``,
3. the old directory is removed.

A kill between 1 and 2 leaves no ``NAME`` but a complete old directory beside it:
:func:`recover_directory` (called by every save and by every load that finds ``NAME`` missing)
renames it back, so a reader always sees the old or the new version. Leftovers of killed
writers (whose process is gone) are removed by the next write to the same target. Only names
that carry aekit's marker (``.aekit-``, or the older ``.NAME.old-PID`` / ``.NAME.XXXX.tmp``
patterns) and that hold nothing but plain files and folders are ever removed.

Temporary files and folders are created with ``open(..., "x")`` and ``mkdir``, so they get the
permissions the user's umask gives, like any other tool's output. A failed write is reported as
``cannot write NAME: REASON`` (the OSError's class and errno kept), never under the temporary
name, which means nothing to the user.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

# A leftover of another machine (a shared file system) is removed only once it is this old:
# its writer's liveness cannot be checked from here.
FOREIGN_LEFTOVER_AGE_S = 24 * 3600


def _host() -> str:
    # Host names may hold characters that are awkward in file names; keep a safe subset.
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _tag(kind: str) -> str:
    return f"aekit-{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def fsync_directory(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (a no-op where directories cannot be
    opened, as on Windows)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems (network, FUSE) refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for entry in path.iterdir():
        if entry.is_symlink():
            continue
        if entry.is_dir():
            _fsync_tree(entry)
        elif entry.is_file():
            with open(entry, "rb") as f:
                os.fsync(f.fileno())
    fsync_directory(path)


def _names_output(exc: OSError, path: Path, tmp: Path) -> bool:
    """Whether ``exc`` is about writing ``path``: it names no file (a full disk), the
    temporary ``tmp`` or something inside it, ``path`` or a folder above it."""
    names = [n for n in (exc.filename, exc.filename2) if isinstance(n, (str, bytes, os.PathLike))]
    if not names:
        return True
    target, temporary = Path(os.path.abspath(path)), Path(os.path.abspath(tmp))
    for name in names:
        named = Path(os.path.abspath(os.fsdecode(name)))
        if named in (target, temporary) or temporary in named.parents or named in target.parents:
            return True
    return False


@contextlib.contextmanager
def _errors_name(path: Path, tmp: Path) -> Iterator[None]:
    """Re-raise an OSError about writing ``path`` as ``cannot write PATH: REASON``: the
    temporary name it may carry (``.NAME.aekit-new-...``) means nothing to the user. Errors
    about other files (an input read meanwhile) and aekit's own messages pass unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None or not _names_output(exc, path, tmp):
            raise
        # The class and errno are kept for callers; strerror is left out of the new error,
        # or str() would show "[Errno N] REASON" instead of the message.
        error = type(exc)(f"cannot write {path}: {exc.strerror or exc}")
        error.errno = exc.errno
        raise error from exc


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    If the block raises (or the process dies), ``path`` is untouched and the temporary file is
    removed (or, after a kill, left under a name with aekit's marker).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_file(target, "w") as f:
    ...     _ = f.write("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{_tag('new')}.tmp")
    encoding = None if "b" in mode else "utf-8"
    with _errors_name(path, tmp):
        f = open(tmp, mode.replace("w", "x"), encoding=encoding)
        try:
            with f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_directory(path.parent)


def atomic_write_path(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` with a temporary path beside ``path`` (same suffix, so writers that
    look at it, such as ``np.save`` or ``savefig``, behave), then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{_tag('new')}{path.suffix}")
    with _errors_name(path, tmp):
        try:
            write(tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_directory(path.parent)
    return path


def _leftover_pattern(name: str) -> re.Pattern[str]:
    n = re.escape(name)
    return re.compile(
        rf"^\.{n}\.(?:aekit-(?P<kind>new|old)-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]+"
        rf"(?:\.tmp)?|(?P<legacy_old>old)-(?P<legacy_pid>\d+)|[A-Za-z0-9_]{{8}}\.tmp)$"
    )


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def _only_plain_files(path: Path) -> bool:
    """True when ``path`` holds only regular files and folders of them (no links, no devices):
    what aekit writes."""
    try:
        for entry in path.iterdir():
            if entry.is_symlink():
                return False
            if entry.is_dir():
                if not _only_plain_files(entry):
                    return False
            elif not entry.is_file():
                return False
    except OSError:
        return False
    return True


def _leftovers(path: Path) -> list[tuple[Path, str, bool]]:
    """(leftover, kind 'new'|'old', writer gone) for each leftover beside ``path``."""
    pattern = _leftover_pattern(path.name)
    found = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or entry.is_symlink():
            continue
        if match["kind"]:
            kind, pid = match["kind"], int(match["pid"])
            if match["host"] == _host():
                gone = not _alive(pid)
            else:
                try:
                    gone = time.time() - entry.lstat().st_mtime > FOREIGN_LEFTOVER_AGE_S
                except OSError:
                    gone = False
        elif match["legacy_old"]:
            kind, gone = "old", not _alive(int(match["legacy_pid"]))
        else:  # an older aekit's mkdtemp/mkstemp name: its writer is long gone or will clean it
            kind = "new"
            try:
                gone = time.time() - entry.lstat().st_mtime > 60
            except OSError:
                gone = False
        found.append((entry, kind, gone))
    return found


def remove_dead_leftovers(folder: str | Path) -> int:
    """Remove the temporary files that killed writers of :func:`atomic_file` left in
    ``folder`` (names with aekit's marker, writer gone); returns how many. For a folder whose
    files aekit rewrites under new names (a checkpoint), where no fixed target names them."""
    removed = 0
    marker = re.compile(r"^\.(?P<name>.+)\.aekit-new-[A-Za-z0-9]+-\d+-[0-9a-f]+\.tmp$")
    for entry in Path(folder).iterdir():
        match = marker.match(entry.name)
        if match is None or not entry.is_file() or entry.is_symlink():
            continue
        for leftover, kind, gone in _leftovers(entry.with_name(match["name"])):
            if leftover == entry and kind == "new" and gone:
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed += 1
    return removed


def recover_directory(path: str | Path, is_complete: Callable[[Path], bool]) -> Path | None:
    """Undo a swap that a kill interrupted and remove dead writers' leftovers beside ``path``.

    When ``path`` is missing and a complete old version (``is_complete``) of a dead writer lies
    beside it, that version is renamed back. Returns where the directory can be read from:
    ``path``, an old version of a writer that is still running (read, not moved), or None.
    """
    path = Path(path)
    leftovers = _leftovers(path)
    readable: Path | None = path if path.exists() else None
    if readable is None:
        olds = [(p, gone) for p, kind, gone in leftovers if kind == "old" and is_complete(p)]
        olds.sort(key=lambda item: item[0].stat().st_mtime, reverse=True)
        for old, gone in olds:
            if not gone:
                readable = old
                break
            try:
                os.replace(old, path)
                fsync_directory(path.parent)
                readable = path
            except OSError:
                readable = old  # read-only parent: read it where it is
            break
    for leftover, _kind, gone in leftovers:
        if gone and leftover.exists() and leftover != readable:
            if leftover.is_dir():
                if _only_plain_files(leftover):
                    shutil.rmtree(leftover, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    leftover.unlink()
    return readable


def check_replaceable(
    path: str | Path, is_ours: Callable[[Path], bool], what: str = "an aekit directory"
) -> Path:
    """Refuse ``path`` as the target of a directory write unless it is absent, an empty
    directory, or recognisably ``what`` (``is_ours``). Returns the absolute path.

    Call it before any long work, so a bad ``--out`` costs nothing.
    """
    path = Path(path).absolute()
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise ValueError(f"{path} exists and is not a directory; not overwriting it")
    if path.is_dir():
        try:
            empty = not any(path.iterdir())
        except OSError as exc:
            raise ValueError(f"cannot write to {path}: {exc.strerror or exc}") from None
        if not empty and not is_ours(path):
            raise ValueError(
                f"{path} is a non-empty directory that is not {what}; not replacing it"
            )
    check_writable_parent(path)
    return path


def check_writable_parent(path: str | Path, name: str = "") -> None:
    """Refuse ``path`` as an output unless the nearest existing folder above it is a
    directory this user may create entries in (``name`` prefixes the path in the message,
    e.g. ``"--out"``)."""
    shown = f"{name} {path}" if name else str(path)
    parent = Path(os.path.abspath(path)).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {shown}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {shown}: {parent} is not writable")


@contextlib.contextmanager
def atomic_directory(
    path: str | Path, is_ours: Callable[[Path], bool], what: str = "an aekit directory"
) -> Iterator[Path]:
    """A fresh directory beside ``path`` that replaces ``path`` when the block ends.

    ``is_ours(p)`` tells whether ``p`` is a complete directory of this kind (and nothing
    foreign): only such a directory (or an empty one) is replaced; anything else is refused
    before the block runs. If the block raises, ``path`` is left as it was.
    """
    path = check_replaceable(path, is_ours, what)
    tmp = path.with_name(f".{path.name}.{_tag('new')}")
    with _errors_name(path, tmp):
        path.parent.mkdir(parents=True, exist_ok=True)
        recover_directory(path, is_ours)
        tmp.mkdir()
        try:
            yield tmp
            _fsync_tree(tmp)
            if path.exists():
                # Checked again: the directory may have changed while the block ran.
                check_replaceable(path, is_ours, what)
                old = path.with_name(f".{path.name}.{_tag('old')}")
                os.replace(path, old)
                os.replace(tmp, path)
                fsync_directory(path.parent)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
                fsync_directory(path.parent)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

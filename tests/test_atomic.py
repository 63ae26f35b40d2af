"""aekit.io.atomic: outputs appear whole or not at all, and only aekit's own leftovers go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aekit.io import atomic
from aekit.io.atomic import (
    atomic_directory,
    atomic_file,
    atomic_write_path,
    check_replaceable,
    check_writable_parent,
    recover_directory,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and processes")


def ours(path: Path) -> bool:
    """A toy directory kind: complete when it holds marker.txt and nothing else."""
    return sorted(p.name for p in path.iterdir()) == ["marker.txt"]


def dead_pid() -> int:
    # A process that has exited and been reaped: its pid names no live process (reuse within
    # the test is possible in principle, and would only keep a leftover one save longer).
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def leftover(path: Path, kind: str, pid: int) -> Path:
    return path.with_name(f".{path.name}.aekit-{kind}-{atomic._host()}-{pid}-0123abcd")


def test_atomic_file_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_file(target, "w") as f:
        f.write("half of the new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]  # the temporary file is gone
    with atomic_file(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_path_keeps_the_suffix_for_writers_that_look_at_it(tmp_path: Path) -> None:
    target = tmp_path / "a.npy"
    seen: list[str] = []

    def write(tmp: Path) -> None:
        seen.append(tmp.suffix)
        np.save(tmp, np.arange(3))  # np.save adds ".npy" to a name without it

    atomic_write_path(target, write)
    assert seen == [".npy"]
    assert np.load(target).tolist() == [0, 1, 2]
    assert os.listdir(tmp_path) == ["a.npy"]


def test_check_replaceable_refuses_what_is_not_ours(tmp_path: Path) -> None:
    assert check_replaceable(tmp_path / "new", ours) == (tmp_path / "new").absolute()
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty", ours)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a thing of ours; not replacing it"):
        check_replaceable(foreign, ours, "a thing of ours")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        check_replaceable(tmp_path / "file", ours)
    with pytest.raises(ValueError, match="is not a directory"):
        check_replaceable(tmp_path / "file" / "below", ours)


def test_check_writable_parent_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_writable_parent(tmp_path / "a" / "b" / "c.npy")  # missing folders are created later
    locked = tmp_path / "locked"
    locked.mkdir()
    # As root every folder is writable: the check is exercised through what os.access says.
    monkeypatch.setattr(atomic.os, "access", lambda path, mode: Path(path) != locked)
    with pytest.raises(ValueError, match=r"--out .*c\.npy: .*locked is not writable"):
        check_writable_parent(locked / "c.npy", "--out")


def test_atomic_directory_swaps_whole_and_keeps_the_old_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "thing"
    with atomic_directory(target, ours) as tmp:
        (tmp / "marker.txt").write_text("v1")
    with pytest.raises(RuntimeError), atomic_directory(target, ours) as tmp:
        (tmp / "marker.txt").write_text("v2")
        raise RuntimeError("disk full")
    assert (target / "marker.txt").read_text() == "v1"
    assert os.listdir(tmp_path) == ["thing"]
    with atomic_directory(target, ours) as tmp:
        (tmp / "marker.txt").write_text("v2")
    assert (target / "marker.txt").read_text() == "v2"
    assert os.listdir(tmp_path) == ["thing"]


@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_outputs_follow_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        with atomic_directory(tmp_path / "d", ours) as tmp:
            (tmp / "marker.txt").write_text("x")
        with atomic_file(tmp_path / "f.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~umask


@posix_only
def test_recover_puts_back_a_dead_writers_old_directory(tmp_path: Path) -> None:
    # A kill between the two renames of a swap: no target, its old version beside it.
    target = tmp_path / "thing"
    old = leftover(target, "old", dead_pid())
    old.mkdir()
    (old / "marker.txt").write_text("v1")
    half = leftover(target, "new", dead_pid())
    half.mkdir()
    (half / "marker.txt").write_text("v2, half written")
    (half / "extra").write_text("")
    assert recover_directory(target, ours) == target
    assert (target / "marker.txt").read_text() == "v1"
    assert os.listdir(tmp_path) == ["thing"]  # the dead writer's new folder is gone too


@posix_only
def test_recover_reads_a_live_writers_old_directory_in_place(tmp_path: Path) -> None:
    target = tmp_path / "thing"
    old = leftover(target, "old", os.getpid())  # this process: alive, mid-swap
    old.mkdir()
    (old / "marker.txt").write_text("v1")
    assert recover_directory(target, ours) == old
    assert old.exists() and not target.exists()


@posix_only
def test_recover_removes_only_aekits_plain_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "thing"
    target.mkdir()
    (target / "marker.txt").write_text("v1")
    pid = dead_pid()
    mine = leftover(target, "new", pid)
    mine.mkdir()
    (mine / "sub").mkdir()
    (mine / "sub" / "a").write_text("")
    linked = target.with_name(f".{target.name}.aekit-old-{atomic._host()}-{pid}-fedcba98")
    linked.mkdir()
    (linked / "link").symlink_to(tmp_path)  # not something aekit writes: left alone
    users = tmp_path / ".thing.backup"  # no aekit marker: never touched
    users.mkdir()
    recover_directory(target, ours)
    assert sorted(os.listdir(tmp_path)) == sorted(["thing", linked.name, ".thing.backup"])

"""Fuzzing every reader of untrusted bytes: mutated files, a sandboxed worker, a tally.

The property (issue 14, "Beyond the list"): a mutated or truncated file makes its reader raise
``ValueError`` or load to a usable result (identical to the original's wherever the format
carries a checksum: zip's CRC-32 in ``.npz``, gzip's CRC-32, the model's SHA-256); never
another exception, never a hang, never a blow-up of time or memory.

How the bounds are enforced, and why this way:

- Every case runs in a long-lived worker subprocess, so a crash (segfault, abort) or a hang
  cannot take the test run with it: the parent sees a dead pipe or a silent one.
- Memory: after the worker has imported everything and loaded every unmutated seed once, it
  sets ``RLIMIT_AS`` to its current address-space size plus ``MEMORY_HEADROOM`` (256 MB). The
  kernel checks that limit on every ``mmap``/``brk``, so it catches allocations by numpy,
  torch's C++ allocator, safetensors (Rust) and zlib alike, and it counts address space that
  is reserved but never touched (the typical ``np.empty(10**12)`` of a lying header), which
  neither ``tracemalloc`` (Python and numpy only, not torch or Rust) nor ``ru_maxrss`` (touched
  pages only, and a lifetime peak) would see. A blown limit surfaces as ``MemoryError`` (or
  torch's "can't allocate memory"), reported as a failure of its own. ``MALLOC_ARENA_MAX=2``
  and one OpenMP thread keep per-thread malloc arenas from moving the baseline.
- Time: the worker measures each case's CPU time (``time.process_time``, all threads), which a
  loaded CI machine does not inflate the way it inflates wall time; over ``CPU_LIMIT_S`` is a
  failure. A case silent for ``WATCHDOG_S`` of wall time is a hang: the worker is killed (by
  its pid) and replaced.

The lazy readers of issue 17 (``open_source``) are fuzzed the same way, each target read by
the index forms of a training loop (``_read_source``).

Run directly for a large campaign with a tally and a reproducer per failure::

    python tests/_fuzz.py --examples 2000 [--seed N] [--target model] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import hashlib
import importlib.util
import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEMORY_HEADROOM = 256 * 2**20  # bytes of address space a case may add to the warm worker's
CPU_LIMIT_S = 2.0  # CPU seconds a case may take
WATCHDOG_S = 30.0  # wall seconds without an answer before the worker counts as hung
PROBE_ROWS = 5

# Outcomes that satisfy the property; every other one is a failure.
PASSING = ("value_error", "identical", "loaded")


# ----------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """A reader and the seeds (unmutated inputs) it is fuzzed on."""

    reader: str  # a key of READERS (run in the worker)
    seeds: tuple[str, ...]  # seed names; each is a folder under the seed root
    entry: str  # what the reader is given: a file inside the seed folder, or "." for the folder
    files: tuple[tuple[str, str], ...]  # (file to mutate, "bytes" | "json" | "safetensors")
    strict: tuple[str, ...] = ()  # files whose every change must be detected (a checksum)
    weight: int = 1  # share of the examples
    needs: tuple[str, ...] = ()  # the optional libraries its reader needs (a pip extra's)


TARGETS: dict[str, Target] = {
    "npy": Target("array", ("npy_f4", "npy_u1_fortran"), "data.npy", (("data.npy", "bytes"),)),
    "npz": Target(
        "array",
        ("npz_stored", "npz_deflated"),
        "data.npz",
        (("data.npz", "bytes"),),
        strict=("data.npz",),  # zip's CRC-32 covers every member
    ),
    "mnist_npz": Target(
        "mnist", ("mnist_npz",), "mnist.npz", (("mnist.npz", "bytes"),), strict=("mnist.npz",)
    ),
    "csv": Target("array", ("csv_header", "csv_series"), "data.csv", (("data.csv", "bytes"),)),
    "nab": Target(
        "nab",
        ("nab",),
        "data.csv",
        (
            ("combined_windows.json", "json"),
            ("combined_windows.json", "bytes"),
            ("data.csv", "bytes"),
        ),
    ),
    "idx": Target("array", ("idx_u1",), "images-idx3-ubyte", (("images-idx3-ubyte", "bytes"),)),
    "idx_gz": Target(
        "array",
        ("idx_f4_gz",),
        "values-idx2-ubyte.gz",
        (("values-idx2-ubyte.gz", "bytes"),),
        strict=("values-idx2-ubyte.gz",),  # gzip's CRC-32 and length trailer
    ),
    "model": Target(
        "model",
        ("model_ae", "model_vae", "model_detector", "model_classifier"),
        ".",
        (
            ("config.json", "json"),
            ("config.json", "bytes"),
            ("model.safetensors", "bytes"),
            ("model.safetensors", "safetensors"),
            ("history.json", "json"),
            ("history.json", "bytes"),
        ),
        # The SHA-256 in config.json covers the weights (issue 14, point 7).
        strict=("model.safetensors",),
        weight=4,
    ),
    "index": Target(
        "index",
        ("index",),
        ".",
        (("index.json", "json"), ("index.json", "bytes"), ("codes.npy", "bytes")),
        weight=2,
    ),
    "codes": Target(
        "codes",
        ("codes_int8", "codes_float16"),
        "codes.npz",
        (("codes.npz", "bytes"),),
        strict=("codes.npz",),
    ),
    # The lazy readers of issue 17, through open_source: each read by the index forms of a
    # training loop (see _read_source).
    "npy_lazy": Target(
        "source", ("npy_lazy_f4", "npy_lazy_be"), "data.npy", (("data.npy", "bytes"),)
    ),
    "tiff_stack": Target(
        "source", ("tiff_u2",), "stack.tif", (("stack.tif", "bytes"),), needs=("tifffile",)
    ),
    "png_folder": Target("source", ("png_l",), ".", (("img1.png", "bytes"),), needs=("PIL",)),
    "parquet": Target(
        "source", ("parquet",), "table.parquet", (("table.parquet", "bytes"),), needs=("pyarrow",)
    ),
    "zarr": Target(
        "source",
        ("zarr_v3",),
        "store.zarr",
        (
            ("store.zarr/zarr.json", "json"),
            ("store.zarr/zarr.json", "bytes"),
            ("store.zarr/c/1/0/0", "bytes"),
        ),
        needs=("zarr",),
    ),
    "hdf5": Target("source", ("nexus",), "data.nxs", (("data.nxs", "bytes"),), needs=("h5py",)),
}


def available(name: str) -> bool:
    """Whether the libraries target ``name`` reads with are installed (zarr, for one, needs
    Python 3.11): a target without them is skipped, its seeds not built."""
    return all(importlib.util.find_spec(module) is not None for module in TARGETS[name].needs)


# ----------------------------------------------------------------------------- seeds
def build_seeds(root: Path) -> Path:
    """Write every seed under ``root`` (small files, so that mutations often hit headers)."""
    import numpy as np

    import aekit
    from aekit.tasks import LatentIndex
    from aekit.tasks.compression import quantize, save_codes

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)

    def folder(name: str) -> Path:
        path = root / name
        path.mkdir()
        return path

    np.save(folder("npy_f4") / "data.npy", rng.normal(size=(6, 4)).astype(np.float32))
    np.save(
        folder("npy_u1_fortran") / "data.npy",
        np.asfortranarray(rng.randint(0, 256, size=(3, 4, 2)).astype(np.uint8)),
    )
    pair = {"x_train": rng.normal(size=(5, 3)).astype(np.float32), "y": np.arange(5)}
    np.savez(folder("npz_stored") / "data.npz", **pair)
    np.savez_compressed(folder("npz_deflated") / "data.npz", **pair)
    np.savez(
        folder("mnist_npz") / "mnist.npz",
        x_train=rng.randint(0, 256, size=(4, 3, 3)).astype(np.uint8),
        y_train=np.arange(4, dtype=np.uint8),
        x_test=rng.randint(0, 256, size=(2, 3, 3)).astype(np.uint8),
        y_test=np.arange(2, dtype=np.uint8),
    )
    (folder("csv_header") / "data.csv").write_text(
        "a,b,c\n" + "".join(f"{i},{i * 0.5:.2f},{-i}e2\n" for i in range(6)), encoding="utf-8"
    )
    (folder("csv_series") / "data.csv").write_text(
        "timestamp,value\n" + "".join(f"2014-07-01 0{i}:00:00,{i * 1.5}\n" for i in range(6)),
        encoding="utf-8",
    )
    nab = folder("nab")
    shutil.copy(root / "csv_series" / "data.csv", nab / "data.csv")
    windows = {"realKnownCause/data.csv": [["2014-07-01 01:00:00", "2014-07-01 02:00:00"]]}
    (nab / "combined_windows.json").write_text(json.dumps(windows), encoding="utf-8")
    images = rng.randint(0, 256, size=(3, 4, 4)).astype(np.uint8)
    (folder("idx_u1") / "images-idx3-ubyte").write_bytes(
        bytes([0, 0, 0x08, 3])
        + b"".join(d.to_bytes(4, "big") for d in images.shape)
        + images.tobytes()
    )
    values = rng.normal(size=(4, 3)).astype(">f4")
    with gzip.open(folder("idx_f4_gz") / "values-idx2-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 0x0D, 2]) + b"".join(d.to_bytes(4, "big") for d in values.shape))
        f.write(values.tobytes())

    # Values outside [0, 1], so that the models z-score them and save scaling arrays.
    X = (rng.normal(size=(40, 6)) * 3.0 + 1.0).astype(np.float32)
    y = np.arange(40) % 2
    np.save(root / "probe.npy", X[:PROBE_ROWS])
    small = dict(latent_dim=2, epochs=2, random_state=0, verbose=False)
    ae = aekit.Autoencoder(hidden=(4,), **small).fit(X)
    ae.save(root / "model_ae")
    aekit.VAE(hidden=(4,), **small).fit(X).save(root / "model_vae")
    aekit.AnomalyDetector(hidden=(4,), **small).fit(X).save(root / "model_detector")
    aekit.AutoencoderClassifier(
        hidden=(4, 2), pretrain_epochs=1, epochs=2, random_state=0, verbose=False
    ).fit(X, y).save(root / "model_classifier")
    LatentIndex(ae).add(X[:12]).save(root / "index")
    codes = ae.transform(X[:8])
    save_codes(folder("codes_int8") / "codes.npz", quantize(codes, "int8"))
    save_codes(folder("codes_float16") / "codes.npz", quantize(codes, "float16"))

    # The lazy readers' seeds: 3 to 6 samples of a few values each.
    np.save(folder("npy_lazy_f4") / "data.npy", rng.normal(size=(6, 4)).astype(np.float32))
    big_endian = rng.randint(-999, 999, size=(4, 2, 3)).astype(">i4")
    np.save(folder("npy_lazy_be") / "data.npy", big_endian)
    frames = rng.randint(0, 65536, size=(3, 4, 5)).astype(np.uint16)
    if available("tiff_stack"):
        import tifffile

        tifffile.imwrite(folder("tiff_u2") / "stack.tif", frames, photometric="minisblack")
    if available("png_folder"):
        from PIL import Image

        pngs = folder("png_l")
        for i, pixels in enumerate(rng.randint(0, 256, size=(3, 4, 5)).astype(np.uint8)):
            Image.fromarray(pixels).save(pngs / f"img{i}.png")
    if available("parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"a": rng.normal(size=6), "b": np.arange(6, dtype=np.int32)})
        pq.write_table(table, folder("parquet") / "table.parquet", row_group_size=3)
    if available("zarr"):
        import zarr

        # Chunks of 2 samples: c/1/0/0 holds samples 2 and 3.
        z = zarr.create_array(
            folder("zarr_v3") / "store.zarr", shape=(6, 2, 3), chunks=(2, 2, 3), dtype="f4"
        )
        z[:] = rng.normal(size=(6, 2, 3)).astype(np.float32)
    if available("hdf5"):
        import h5py

        # NeXus's default plottable data, found through the attributes: chunked and deflated.
        with h5py.File(folder("nexus") / "data.nxs", "w") as f:
            f.attrs["default"] = "entry"
            entry = f.create_group("entry")
            entry.attrs.update(NX_class="NXentry", default="data")
            data = entry.create_group("data")
            data.attrs.update(NX_class="NXdata", signal="frames")
            data.create_dataset("frames", data=frames, chunks=(1, 4, 5), compression="gzip")
    return root


# ----------------------------------------------------------------------------- mutations
# NUL, 0xff, 0x7f, 0x80, and characters that matter to JSON, CSV and numbers.
INTERESTING_BYTES = tuple(b'\x00\xff\x7f\x80 \n",-.09[]{}e')
# fmt: off
INTERESTING_INTS = (
    0, 1, 2**7, 2**8 - 1, 2**15, 2**16 - 1, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, 2**64 - 1,
    10**9, 2**40,
)
# fmt: on
INT_LAYOUTS = ((1, "big"), (2, "little"), (4, "big"), (4, "little"), (8, "little"), (8, "big"))
TOKENS = (
    b"\x00" * 8,
    b"\xff" * 8,
    b"9999999999",
    b"-1",
    b"1e999",
    b"NaN",
    b"[",
    b"]",
    b"{",
    b"}",
    b'"',
    b",",
    b"\n",
    b"\r\n",
    b"\xef\xbb\xbf",
    b"\xc3\x28",
    b"PK\x03\x04",
    b"\x93NUMPY",
    b"\x1f\x8b\x08",
)

# Hostile JSON values. Strings starting with RAW: stand for raw JSON text that json.dumps
# could not write (too deep for its recursion) or that must reach the parser as written.
RAW_DEEP = "RAW:deep"  # arrays nested 200,000 deep
RAW_LONG_INT = "RAW:long_int"  # 5,000 digits: over Python's int-from-string limit
RAW_HUGE_FLOAT = "RAW:1e999"  # parses as inf
RAW_DEEP_TEXT = "[" * 200_000 + "]" * 200_000
# fmt: off
HOSTILE = (
    None, True, False, 0, -1, 1, 3, 2**31, 2**63, 10**30, -(10**30), 0.5, -0.0, 1e308,
    float("nan"), float("inf"), float("-inf"), "", "abc", "x" * 100_000, "../../etc/passwd",
    [], [1], [-1, 2], [0], [30000, 30000], [200000, 200000], [2**31], [[1]], {}, {"a": 1},
    {"format": "aekit-model"}, RAW_DEEP, RAW_LONG_INT, RAW_HUGE_FLOAT,
)
# fmt: on
JSON_ACTIONS = ("replace", "delete", "add", "wrap")


def _json_paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(node, dict):
        for k in node:
            yield from _json_paths(node[k], (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:20]):  # a long history: its first rows are enough
            yield from _json_paths(v, (*prefix, i))


def _is_numeric(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(_is_numeric(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dump_json(doc: Any) -> bytes:
    raw: dict[str, str] = {}

    def swap(node: Any) -> Any:
        if isinstance(node, str) and node.startswith("RAW:"):
            token = f"\u0001{len(raw)}\u0001"
            raw[json.dumps(token)] = {
                RAW_DEEP: RAW_DEEP_TEXT,
                RAW_LONG_INT: "9" * 5000,
                RAW_HUGE_FLOAT: "1e999",
            }[node]
            return token
        if isinstance(node, dict):
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node

    text = json.dumps(swap(doc), indent=1)
    for token, value in raw.items():
        text = text.replace(token, value)
    return text.encode("utf-8")


def mutate_json(doc: Any, op: tuple) -> Any:
    """Apply a JSON-aware mutation to ``doc``: ("json", path selector, numeric nodes only,
    action, index into HOSTILE), or ("json_at", path, action, value) for a chosen node."""
    if op[0] == "json_at":
        _, path, action, value = op
        return _mutate_at(doc, tuple(path), action, value)
    _, selector, numeric, action, value_index = op
    paths = list(_json_paths(doc))
    if numeric:
        paths = [p for p in paths if p and _is_numeric(_get(doc, p))] or paths
    path = paths[selector % len(paths)]
    return _mutate_at(doc, path, action, HOSTILE[value_index % len(HOSTILE)])


def _mutate_at(doc: Any, path: tuple, action: str, value: Any) -> Any:
    # A copy: a later mutation inside the inserted value must not change HOSTILE itself.
    value = copy.deepcopy(value)
    if not path:  # the root itself
        return value if action in ("replace", "delete") else [doc] if action == "wrap" else doc
    parent, key = _get(doc, path[:-1]), path[-1]
    if action == "replace":
        parent[key] = value
    elif action == "delete":
        del parent[key]
    elif action == "wrap":
        parent[key] = [parent[key]]
    elif isinstance(parent, dict):  # add: a key no aekit format defines
        parent[f"unknown_{len(parent)}"] = value
    else:
        parent.insert(key, value)
    return doc


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def mutate_bytes(data: bytes, op: tuple) -> bytes:
    """Apply one byte-level mutation; positions are taken modulo the current length."""
    kind, pos = op[0], op[1] % (len(data) + 1)
    buf = bytearray(data)
    if kind == "flip" and buf:
        buf[min(pos, len(buf) - 1)] ^= op[2]
    elif kind == "set" and buf:
        buf[min(pos, len(buf) - 1)] = op[2]
    elif kind == "truncate":
        del buf[pos:]
    elif kind == "insert":
        buf[pos:pos] = op[2]
    elif kind == "delete":
        del buf[pos : pos + op[2]]
    elif kind == "repeat":
        buf[pos:pos] = bytes(buf[pos : pos + op[2]]) * op[3]
    elif kind == "int":
        value, (size, order) = op[2], op[3]
        buf[pos : pos + size] = (value % 2 ** (8 * size)).to_bytes(size, order)
    return bytes(buf)


def apply_ops(data: bytes, style: str, ops: tuple[tuple, ...]) -> bytes:
    """Mutate a file's bytes: structure-aware operations first, then byte-level ones."""
    structured = [op for op in ops if op[0].startswith("json")]
    if structured and style == "json":
        doc = json.loads(data)
        for op in structured:
            doc = mutate_json(doc, op)
        data = _dump_json(doc)
    elif structured and style == "safetensors":
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        for op in structured:
            header = mutate_json(header, op)
        text = _dump_json(header)
        data = len(text).to_bytes(8, "little") + text + data[8 + n :]
    for op in ops:
        if not op[0].startswith("json"):
            data = mutate_bytes(data, op)
    return data


def describe_ops(ops: tuple[tuple, ...]) -> str:
    """The mutations in words, for a reproducer."""
    words = []
    for op in ops:
        if op[0] == "json_at":
            _, path, action, value = op
            shown = value if not isinstance(value, str) or len(value) < 40 else "'x' * 100000"
            words.append(f"json {action} {'/'.join(map(str, path))} with {shown!r}")
        elif op[0] == "json":
            _, selector, numeric, action, value_index = op
            value = HOSTILE[value_index % len(HOSTILE)]
            shown = value if not isinstance(value, str) or len(value) < 40 else "'x' * 100000"
            node = f"{'numeric ' if numeric else ''}node #{selector}"
            words.append(
                f"json {action} {node}"
                + (f" with {shown!r}" if action in ("replace", "add") else "")
            )
        elif op[0] in ("insert",):
            words.append(f"insert {op[2]!r} at {op[1]}")
        elif op[0] == "int":
            words.append(f"write {op[2]} as {op[3][0]}-byte {op[3][1]}-endian at {op[1]}")
        else:
            words.append(" ".join(str(v) for v in op))
    return "; ".join(words)


@dataclass(frozen=True)
class Case:
    target: str
    seed: str
    file: str
    style: str
    ops: tuple[tuple, ...]

    def __str__(self) -> str:
        return f"{self.target}/{self.seed}/{self.file}: {describe_ops(self.ops)}"


# The hostile values issue 14 lists (points 10 and 13), always run besides the generated cases.
# fmt: off
ISSUE_CASES: dict[str, list[tuple[str, tuple]]] = {
    "model": [
        ("config.json", ("module", "config", "hidden"), "replace", [30000, 30000]),
        ("config.json", ("module", "config", "hidden"), "replace", [200000, 200000]),
        ("config.json", ("module", "config", "hidden"), "replace", [-4]),
        ("config.json", ("module", "config", "latent_dim"), "replace", 10**9),
        ("config.json", ("module", "config", "n_features"), "replace", -6),
        ("config.json", ("params", "latent_dim"), "replace", "abc"),
        ("config.json", ("params", "hidden"), "replace", "xyz"),
        ("config.json", ("state", "input_shape_"), "replace", 5),
        ("config.json", ("state",), "replace", [1]),
        ("config.json", ("state", "best_epoch_"), "replace", "x"),
        ("config.json", ("state", "scaling_"), "replace", "no-such-scaling"),
        ("config.json", ("params", "device"), "replace", "meta"),
        ("config.json", ("estimator",), "replace", "__class__"),
        ("config.json", ("module", "kind"), "replace", "../../x"),
        ("config.json", ("weights_sha256",), "delete", None),
        ("config.json", ("params",), "add", RAW_DEEP),
        ("config.json", (), "replace", RAW_DEEP),
        ("history.json", (), "replace", {"a": 1}),
        ("history.json", (), "replace", RAW_DEEP),
        ("history.json", (0, "loss"), "replace", RAW_LONG_INT),
    ],
    "index": [
        ("index.json", ("count",), "replace", 2**63),
        ("index.json", ("dim",), "replace", 10**9),
        ("index.json", ("metric",), "replace", ["l2"]),
        ("index.json", (), "replace", RAW_DEEP),
    ],
}
# fmt: on


def issue_cases(target_name: str) -> list[Case]:
    """The cases of ISSUE_CASES for one target, on its first seed."""
    seed = TARGETS[target_name].seeds[0]
    return [
        Case(target_name, seed, file, "json", (("json_at", path, action, value),))
        for file, path, action, value in ISSUE_CASES.get(target_name, [])
    ]


def case_strategy(target_name: str) -> Any:
    """A Hypothesis strategy of mutation cases for one target."""
    from hypothesis import strategies as st

    target = TARGETS[target_name]
    pos = st.integers(0, 2**20)
    byte_op = st.one_of(
        st.tuples(st.just("flip"), pos, st.integers(1, 255)),
        st.tuples(st.just("set"), pos, st.sampled_from(INTERESTING_BYTES)),
        st.tuples(st.just("truncate"), pos),
        st.tuples(
            st.just("insert"),
            pos,
            st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=16)),
        ),
        st.tuples(st.just("delete"), pos, st.integers(1, 64)),
        st.tuples(st.just("repeat"), pos, st.integers(1, 64), st.integers(2, 200)),
        st.tuples(
            st.just("int"), pos, st.sampled_from(INTERESTING_INTS), st.sampled_from(INT_LAYOUTS)
        ),
    )
    json_op = st.tuples(
        st.just("json"),
        st.integers(0, 10**6),
        st.booleans(),
        st.sampled_from(JSON_ACTIONS),
        st.integers(0, len(HOSTILE) - 1),
    )

    @st.composite
    def cases(draw: Callable) -> Case:
        seed = draw(st.sampled_from(target.seeds))
        file, style = draw(st.sampled_from(target.files))
        if style == "bytes":
            ops = draw(st.lists(byte_op, min_size=1, max_size=3))
        else:  # structure-aware, sometimes followed by a byte-level mutation
            ops = draw(st.lists(json_op, min_size=1, max_size=2))
            ops += draw(st.sampled_from([0, 0, 0, 1])) * [draw(byte_op)]
        return Case(target_name, seed, file, style, tuple(ops))

    return cases()


# ----------------------------------------------------------------------------- worker side
def _digest(value: Any, h: Any) -> None:
    import numpy as np

    if isinstance(value, np.ndarray):
        h.update(f"{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (tuple, list)):
        h.update(b"(")
        for v in value:
            _digest(v, h)
        h.update(b")")
    else:
        h.update(repr(value).encode())


def _read_array(path: Path, probe: Any) -> Any:
    import numpy as np

    from aekit.datasets import load

    out = load(path)
    if not isinstance(out, np.ndarray) or out.dtype.hasobject:
        raise _BadOutput(f"read_array returned {type(out).__name__} {getattr(out, 'dtype', '')}")
    return out


def _read_mnist(path: Path, probe: Any) -> Any:
    from aekit.datasets import load_mnist

    return tuple(load_mnist(path))


def _read_nab(path: Path, probe: Any) -> Any:
    from aekit.datasets import load_nab

    return tuple(load_nab(path))


def _read_model(path: Path, probe: Any) -> Any:
    import aekit
    from aekit.io import describe

    estimator = aekit.load(path)
    outputs = []
    for method in ("transform", "reconstruct", "decision_function", "predict", "predict_proba"):
        if hasattr(estimator, method):
            outputs.append(getattr(estimator, method)(probe))
    json.dumps(describe(path))  # aekit info's reader: must succeed or raise ValueError too
    return outputs


def _read_index(path: Path, probe: Any) -> Any:
    from aekit.tasks import LatentIndex

    return LatentIndex.load(path).search(probe, 3)


def _read_codes(path: Path, probe: Any) -> Any:
    from aekit.tasks.compression import load_codes

    return tuple(load_codes(path))


# The most bytes of samples one read of a lazy source may ask for in a case. HDF5 and zarr let
# a file announce any shape (a chunk never written reads as the fill value), so reading a large
# announced array is what the file asks for, not a blow-up of the reader: past this the case
# reads only the smaller forms. The seeds hold a few hundred bytes.
LAZY_READ_BYTES = 1 << 20


def _read_source(path: Path, probe: Any) -> Any:
    """``open_source``, then the index forms of a training loop: a sample, rows out of order,
    a slice, every sample; each must have the shape and type the source announced."""
    import numpy as np

    from aekit.datasets import open_source

    with open_source(path) as source:
        shape, dtype = tuple(source.shape), np.dtype(source.dtype)
        n = shape[0]
        if len(source) != n or dtype.kind not in "biuf" or min(shape) < 0:
            raise _BadOutput(f"open_source announced {len(source)} samples, {shape} {dtype}")
        sample_bytes = math.prod(shape[1:]) * dtype.itemsize
        outputs: list[Any] = [shape, dtype.str, source.describe()]
        forms: list[tuple[Any, int]] = [("read", n)]
        if n:
            forms = [(0, 1), ([min(2, n - 1), 0], 2), (slice(1, 3), len(range(n)[1:3])), *forms]
        for index, rows in forms:
            if rows * sample_bytes > LAZY_READ_BYTES:
                outputs.append(f"{rows} samples not read")
                continue
            out = source.read() if index == "read" else source[index]
            expected = shape[1:] if isinstance(index, int) else (rows, *shape[1:])
            if not isinstance(out, np.ndarray) or out.shape != expected or out.dtype != dtype:
                got = f"{getattr(out, 'shape', type(out).__name__)} {getattr(out, 'dtype', '')}"
                raise _BadOutput(f"source[{index!r}] gave {got}, not {expected} {dtype}")
            outputs.append(out)
    return outputs


def _selftest(path: Path, probe: Any) -> Any:
    """Misbehave as the file says, to show that the worker catches each kind of failure."""
    import numpy as np

    orders = json.loads(path.read_text(encoding="utf-8"))
    if orders.get("allocate"):
        return np.ones(orders["allocate"], dtype=np.uint8)
    if orders.get("spin"):
        end = time.process_time() + orders["spin"]
        while time.process_time() < end:
            pass
    if orders.get("sleep"):
        time.sleep(orders["sleep"])
    if orders.get("abort"):
        os.abort()
    if orders.get("raise"):
        raise {"TypeError": TypeError, "ValueError": ValueError}[orders["raise"]]("as ordered")
    return np.zeros(1)


READERS: dict[str, Callable[[Path, Any], Any]] = {
    "selftest": _selftest,
    "array": _read_array,
    "mnist": _read_mnist,
    "nab": _read_nab,
    "model": _read_model,
    "index": _read_index,
    "codes": _read_codes,
    "source": _read_source,
}


class _BadOutput(Exception):
    """A reader returned something that is not what it promises."""


def _run_one(reader: str, path: Path, probe: Any) -> dict[str, Any]:
    start = time.process_time()
    try:
        h = hashlib.sha256()
        _digest(READERS[reader](path, probe), h)
        result = {"outcome": "loaded", "digest": h.hexdigest()}
    except ValueError as exc:
        result = {"outcome": "value_error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    except MemoryError as exc:
        result = {"outcome": "memory", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    except _BadOutput as exc:
        result = {"outcome": "bad_output", "detail": str(exc)}
    except Exception as exc:  # every other exception is what the fuzzer looks for
        text = f"{type(exc).__name__}: {exc}"
        kind = "memory" if "allocate memory" in text or "can't allocate" in text else "exception"
        tb = traceback.extract_tb(exc.__traceback__)
        where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in tb[-4:]]
        result = {"outcome": kind, "detail": text[:300], "where": where}
    result["cpu_s"] = time.process_time() - start
    return result


def _address_space() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def worker_main(root: Path, bare: bool = False) -> None:
    """Serve cases: one JSON line in ({"reader", "path"}), one JSON line out. A ``bare``
    worker loads no seeds (it serves ``check`` calls on files of its callers)."""
    import resource
    import warnings

    import numpy as np

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints must not garble the protocol
    warnings.simplefilter("ignore")
    probe = None if bare else np.load(root / "probe.npy")
    baselines = {}
    for name, target in {} if bare else TARGETS.items():
        if not available(name):
            continue
        for seed in target.seeds:
            result = _run_one(target.reader, root / seed / target.entry, probe)
            if result["outcome"] != "loaded":
                raise SystemExit(f"seed {seed} of {name} does not load: {result}")
            baselines[seed] = result["digest"]
    size = _address_space()
    if size is not None:
        limit = size + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    proto.write(json.dumps({"baselines": baselines, "address_space": size}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        proto.write(json.dumps(_run_one(request["reader"], Path(request["path"]), probe)) + "\n")


# ----------------------------------------------------------------------------- parent side
@dataclass
class Result:
    case: Case
    outcome: str  # one of PASSING, or a failure: exception, memory, slow, hang, crash, ...
    detail: str = ""
    where: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    digest: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in PASSING

    def __str__(self) -> str:
        at = f" at {' <- '.join(reversed(self.where))}" if self.where else ""
        return f"[{self.outcome}] {self.case} -> {self.detail}{at}"


class Fuzzer:
    """Seeds, a worker subprocess, and the tally of every case run."""

    def __init__(self, workdir: Path, keep: Path | None = None, bare: bool = False) -> None:
        """``bare``: no seeds, and a worker that imports only numpy (for ``check`` alone)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bare = bare
        self.root = self.workdir / "seeds"
        if not bare:
            build_seeds(self.root)
        self.scratch = self.workdir / "case"
        self.keep = keep
        self.tally: Counter[tuple[str, str]] = Counter()
        self.failures: list[Result] = []
        self.proc: subprocess.Popen[str] | None = None
        self.baselines: dict[str, str] = {}
        self.log = self.workdir / "worker.log"
        self.watchdog_s = WATCHDOG_S
        self.address_space: int | None = None  # the warm worker's, before its limit was set

    # -- worker
    def _start(self) -> None:
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MALLOC_ARENA_MAX": "2",
            "PYTHONHASHSEED": "0",
            "CUDA_VISIBLE_DEVICES": "",
        }
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-u",
                    str(Path(__file__).resolve()),
                    "--bare-worker" if self.bare else "--worker",
                    str(self.root),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
            )
        try:
            hello = self._read(timeout=300.0)
        except EOFError:
            hello = None
        if hello is None:
            raise RuntimeError(f"the fuzz worker did not start; see {self.log}")
        self.baselines = hello["baselines"]
        self.address_space = hello["address_space"]

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError("the worker closed its end")
        return json.loads(line)

    def _stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            self.proc = None

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> Fuzzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cases
    def write_case(self, case: Case, into: Path) -> Path:
        """Copy the case's seed into ``into``, mutate its file, and return the reader's input."""
        target = TARGETS[case.target]
        if into.exists():
            shutil.rmtree(into)
        shutil.copytree(self.root / case.seed, into)
        original = (self.root / case.seed / case.file).read_bytes()
        (into / case.file).write_bytes(apply_ops(original, case.style, case.ops))
        return into / target.entry

    def check(self, reader: str, path: Path, case: Case | None = None) -> Result:
        """Run one reader on ``path`` in the worker, within the time and memory bounds; the
        result is not tallied. ``case`` only labels the result."""
        case = case or Case("file", "-", str(path), "bytes", ())
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        start = time.monotonic()
        died = False
        try:
            self.proc.stdin.write(json.dumps({"reader": reader, "path": str(path)}) + "\n")
            self.proc.stdin.flush()
            answer = self._read(timeout=self.watchdog_s)
        except (BrokenPipeError, EOFError):
            answer, died = None, True
        if answer is None:
            waited = time.monotonic() - start
            code = self.proc.wait(timeout=10) if died else None
            self._stop()
            result = (
                Result(case, "crash", f"the worker died (exit status {code})")
                if died
                else Result(case, "hang", f"no answer after {waited:.0f} s")
            )
        else:
            result = Result(
                case,
                answer["outcome"],
                answer.get("detail", ""),
                answer.get("where", []),
                answer["cpu_s"],
                answer.get("digest", ""),
            )
            if result.ok and result.cpu_s > CPU_LIMIT_S:
                result.outcome, result.detail = "slow", f"{result.cpu_s:.1f} s of CPU"
            if result.outcome == "memory":
                self._stop()  # a worker that hit its memory limit may be in a bad state
        return result

    def run(self, case: Case) -> Result:
        """Write ``case``, run its target's reader on it, judge the outcome and tally it."""
        target = TARGETS[case.target]
        result = self.check(target.reader, self.write_case(case, self.scratch), case)
        if result.outcome == "loaded":
            if result.digest == self.baselines[case.seed]:
                result.outcome = "identical"
            elif case.file in target.strict:
                result.outcome = "changed"
                result.detail = "loaded to outputs that differ from the original's"
        self.tally[(case.target, result.outcome)] += 1
        if not result.ok:
            self.failures.append(result)
            if self.keep is not None:
                self.write_case(case, self.keep / f"failure-{len(self.failures):04d}")
        return result

    # -- reporting
    def report(self) -> str:
        outcomes = sorted({o for _, o in self.tally})
        lines = [f"{'target':<10} {'cases':>6} " + " ".join(f"{o:>11}" for o in outcomes)]
        for name in TARGETS:
            row = [self.tally[(name, o)] for o in outcomes]
            if sum(row):
                lines.append(f"{name:<10} {sum(row):>6} " + " ".join(f"{n:>11}" for n in row))
        total = sum(self.tally.values())
        bad = sum(n for (_, o), n in self.tally.items() if o not in PASSING)
        not_value_errors = sum(
            n for (_, o), n in self.tally.items() if o in ("exception", "memory", "crash")
        )
        if self.address_space is None:
            lines.append("no memory bound: /proc/self/status is not available here")
        else:
            lines.append(
                f"memory bound: {MEMORY_HEADROOM >> 20} MB over the warm worker's "
                f"{self.address_space >> 20} MB of address space; time bound: {CPU_LIMIT_S} s "
                f"of CPU per case"
            )
        lines.append(
            f"fuzz: {total} mutated inputs, {bad} failures "
            f"({not_value_errors} exceptions other than ValueError, memory or crash included)"
        )
        return "\n".join(lines)


def campaign(fuzzer: Fuzzer, target: str, examples: int, seed: int | None = None) -> list[Result]:
    """Run ``examples`` Hypothesis-generated cases of ``target``, recording every outcome
    (no assertion, no shrinking: this is the counting mode)."""
    from hypothesis import Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    results: list[Result] = []

    @settings(
        max_examples=examples,
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(__import__("hypothesis").HealthCheck),
    )
    @given(case_strategy(target))
    def run(case: Case) -> None:
        results.append(fuzzer.run(case))

    if seed is not None:
        run = hypothesis_seed(seed)(run)
    run()
    return results


def split_examples(total: int, names: list[str] | None = None) -> dict[str, int]:
    """``total`` cases shared among the targets ``names`` (default: all) by weight, at least
    one each."""
    names = list(TARGETS) if names is None else names
    weights = sum(TARGETS[n].weight for n in names)
    return {n: max(1, math.floor(total * TARGETS[n].weight / weights)) for n in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bare-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--examples", type=int, default=2000, help="cases in all (default 2000)")
    parser.add_argument("--seed", type=int, help="a Hypothesis seed (default: derandomized)")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--keep", type=Path, help="write each failing case under this folder")
    args = parser.parse_args(argv)
    if args.worker is not None or args.bare_worker is not None:
        worker_main(args.worker or args.bare_worker, bare=args.bare_worker is not None)
        return 0
    counts = split_examples(args.examples, args.target)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aekit-fuzz-") as tmp:
        with Fuzzer(Path(tmp), keep=args.keep) as fuzzer:
            for name in counts:
                campaign(fuzzer, name, counts[name], args.seed)
                print(
                    f"{name}: {sum(n for (t, _), n in fuzzer.tally.items() if t == name)} "
                    f"cases ({time.monotonic() - started:.0f} s)",
                    file=sys.stderr,
                )
            print(fuzzer.report())
            for result in fuzzer.failures:
                print(result)
            return 1 if fuzzer.failures else 0


if __name__ == "__main__":
    sys.exit(main())

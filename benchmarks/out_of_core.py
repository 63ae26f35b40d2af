"""Training on data larger than memory, and what streaming costs on data that fits.

Two measurements, each in a fresh process under ``/usr/bin/time -v`` (its peak resident set
size is the figure; the proportional set size of all the fit's processes, its DataLoader readers
included, is sampled beside it):

1. **Out of core.** Writes an HDF5 file of at least ``--gb`` GB (default 6) of MNIST-derived
   images (each a training image shifted by up to 2 pixels and noised with Gaussian noise of
   8 grey levels, chunks of about 800 kB), then fits the default convolutional autoencoder
   (``Autoencoder(architecture="conv")``) on it for one epoch, streaming (``max_memory=0``: the
   whole file is larger than this machine's memory budget, and the point is what streaming
   holds in memory). ``--dtype`` is float32 by default, as calibrated detector frames are
   (the noise then stays real-valued); uint8 stores 4x as many images in the same bytes, so an
   epoch takes 4x as long. On a machine where a full epoch takes hours, ``--minutes M`` stops
   the fit with a Ctrl-C after M minutes (the statistics pass has then read the whole file, and
   training has read random chunks across it), and ``--samples N`` trains on N samples spread
   over the file (a strided view of it).
2. **Streaming against memory.** On MNIST's 60,000 training images (which fit), the same model
   for ``--epochs`` epochs in memory and streamed from an HDF5 copy (``max_memory=0``): samples
   per second of training, and their ratio.

Run by hand (it writes several GB)::

    python benchmarks/out_of_core.py --dir /tmp/aekit-ooc
    python benchmarks/out_of_core.py --dir /tmp/aekit-ooc --minutes 20 --skip-compare

Prints the absolute figures and the ratio; ``--keep`` keeps the big file for another run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
BLOCK = 60_000  # images generated and written at a time

FIT = """
import json, os, signal, sys, threading, time
import numpy as np
from aekit import Autoencoder
from aekit.datasets import HDF5Source
from aekit.training import streaming
spec, samples, max_memory, epochs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
minutes = float(sys.argv[5])
source = HDF5Source(spec)
if samples and samples < len(source):
    class Strided:  # every k-th sample of the file: a view spread over all of it
        def __init__(self, source, k, n):
            self.source, self.k, self.n = source, k, n
            self.shape = (n, *source.shape[1:])
            self.dtype, self.chunk_rows = source.dtype, 1
        def __len__(self):
            return self.n
        def __getitem__(self, index):
            rows = np.arange(self.n)[index] * self.k
            return self.source[rows]
        def describe(self):
            return f"every {self.k}th sample of " + self.source.describe()
        def close(self):
            self.source.close()
    source = Strided(source, len(source) // samples, samples)
data = source if max_memory == "0" else source.read()
counted = {"batches": 0, "samples": 0, "first": None}
batches = streaming.StreamSource.batches
def counting(self, order, batch_size, start=0):
    for batch in batches(self, order, batch_size, start):
        if order is not None:  # training batches
            counted["first"] = counted["first"] or time.perf_counter()
            counted["batches"] += 1
            counted["samples"] += len(batch[0])
        yield batch
streaming.StreamSource.batches = counting
if minutes:  # a Ctrl-C after that long: the fit stops after the batch it is in
    threading.Timer(minutes * 60, os.kill, (os.getpid(), signal.SIGINT)).start()
ae = Autoencoder(architecture="conv", epochs=epochs, early_stopping=False, random_state=0,
                 verbose=False, max_memory=0 if max_memory == "0" else "auto")
start = time.perf_counter()
try:
    ae.fit(data)
    stopped = None
except KeyboardInterrupt:  # in the first epoch there are no weights to keep: it raises
    stopped = "interrupted"
fit_s = time.perf_counter() - start
if stopped is None:
    epoch_s = sum(h["time"] for h in ae.history_)
    n_train = round(len(data) * (1 - ae.validation_fraction)) * epochs
    loss, val_loss = ae.history_[-1]["loss"], ae.history_[-1]["val_loss"]
else:
    epoch_s = time.perf_counter() - (counted["first"] or start)
    n_train, loss, val_loss = counted["samples"], float("nan"), float("nan")
stats_s = (counted["first"] or start) - start
print(json.dumps({"fit_s": fit_s, "epoch_s": epoch_s, "n": len(data), "trained": n_train,
                  "samples_per_s": n_train / max(epoch_s, 1e-9), "stats_s": stats_s,
                  "loss": loss, "val_loss": val_loss, "stopped": stopped}))
"""


def _shifted_noisy(images: np.ndarray, rng: np.random.Generator, dtype: str) -> np.ndarray:
    """Each image shifted by up to 2 pixels each way and noised (sigma 8 grey levels)."""
    out = np.empty_like(images)
    shifts = rng.integers(-2, 3, size=(len(images), 2))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            pick = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
            out[pick] = np.roll(images[pick], (dy, dx), axis=(1, 2))
    noisy = out + rng.normal(0, 8, size=out.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(dtype)


def write_big(path: Path, gb: float, images: np.ndarray, dtype: str) -> int:
    """Write (or reuse) the HDF5 file of at least ``gb`` GB; returns its number of images."""
    import h5py

    itemsize = np.dtype(dtype).itemsize
    n = math.ceil(gb * 1e9 / (images[0].size * itemsize))
    if path.exists():
        with h5py.File(path, "r") as f:
            if f["images"].shape[0] == n and f["images"].dtype == dtype:
                print(f"reusing {path} ({n:,} images)")
                return n
        path.unlink()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with h5py.File(path, "w") as f:
        chunks = (1024 // itemsize, 28, 28)
        data = f.create_dataset("images", shape=(n, 28, 28), dtype=dtype, chunks=chunks)
        for first in range(0, n, BLOCK):
            block = _shifted_noisy(images[: min(BLOCK, n - first)], rng, dtype)
            data[first : first + len(block)] = block
    size = path.stat().st_size
    print(f"wrote {path}: {n:,} images, {size / 1e9:.2f} GB in {time.perf_counter() - start:.0f} s")
    return n


def _tree(root: int) -> list[int]:
    """``root`` and every process below it (the fit and its DataLoader readers)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # not a process, or it ended
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _pss_kb(pids: list[int]) -> int:
    """Proportional set size of these processes together: shared pages counted once."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += int(re.search(r"^Pss:\s+(\d+)", text, re.M)[1])
    return total


def timed_fit(
    spec: str, samples: int, max_memory: str, epochs: int, threads: int, minutes: float = 0
) -> dict:
    """The fit in a fresh process under /usr/bin/time -v: its figures and peak RSS.

    /usr/bin/time gives the largest single process's peak RSS; the reader processes of a
    streamed fit are separate, so their memory together is sampled too, every second, as the
    proportional set size of the whole process tree (pages shared after fork counted once).
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-c", FIT, spec, str(samples), max_memory]
    cmd += [str(epochs), str(minutes)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak_pss = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak_pss[0] = max(peak_pss[0], _pss_kb(_tree(proc.pid)))
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"the fit failed:\n{stderr[-3000:]}")
    figures = json.loads(stdout.strip().splitlines()[-1])
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)[1])
    figures["peak_rss_gb"] = rss_kb * 1024 / 1e9
    figures["peak_pss_gb"] = peak_pss[0] * 1024 / 1e9
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/aekit-ooc"))
    parser.add_argument("--gb", type=float, default=6.0)
    parser.add_argument("--dtype", choices=("float32", "uint8"), default="float32")
    parser.add_argument("--samples", type=int, default=0, help="0: every sample of the file")
    parser.add_argument(
        "--minutes",
        type=float,
        default=0,
        help="stop the big fit with a Ctrl-C after this long (0: let the epoch finish)",
    )
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the MNIST comparison")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the big file")
    args = parser.parse_args()
    import h5py

    args.dir.mkdir(parents=True, exist_ok=True)
    images = np.load(MNIST)["x_train"]
    if not args.skip_big:
        big = args.dir / f"mnist-big-{args.dtype}.h5"
        n = write_big(big, args.gb, images, args.dtype)
        got = timed_fit(f"{big}:/images", args.samples, "0", 1, args.threads, args.minutes)
        what = "every sample" if not args.samples else f"{got['n']:,} samples spread over it"
        how = (
            f"stopped by Ctrl-C after {got['trained']:,} training samples"
            if got["stopped"]
            else f"loss {got['loss']:.4f}"
        )
        print(
            f"out of core: {big.stat().st_size / 1e9:.2f} GB, {n:,} images; one epoch on {what}: "
            f"peak RSS {got['peak_rss_gb']:.2f} GB (all processes: PSS "
            f"{got['peak_pss_gb']:.2f} GB), statistics pass {got['stats_s']:.0f} s, "
            f"fit {got['fit_s']:.0f} s, training {got['samples_per_s']:.0f} samples/s, {how}"
        )
        if not args.keep:
            big.unlink()
    if not args.skip_compare:
        small = args.dir / "mnist.h5"
        with h5py.File(small, "w") as f:
            f.create_dataset("images", data=images, chunks=(1024, 28, 28))
        spec = f"{small}:/images"
        memory = timed_fit(spec, 0, "auto", args.epochs, args.threads)
        stream = timed_fit(spec, 0, "0", args.epochs, args.threads)
        for name, got in (("in memory", memory), ("streamed from HDF5", stream)):
            print(
                f"{name:>20}: {got['samples_per_s']:7.0f} samples/s, fit {got['fit_s']:6.1f} s, "
                f"peak RSS {got['peak_rss_gb']:.2f} GB (PSS {got['peak_pss_gb']:.2f} GB), "
                f"val_loss {got['val_loss']:.4f}"
            )
        ratio = stream["samples_per_s"] / memory["samples_per_s"]
        print(f"streamed / in memory: {ratio:.2f} of the samples per second")


if __name__ == "__main__":
    main()

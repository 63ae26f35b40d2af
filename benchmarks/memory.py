"""Peak memory of a fit: the training data is held once, as float32.

Writes a 200,000 x 784 float64 ``.npy`` file (1.25 GB: MNIST's training images in [0, 1],
tiled and noised) and fits the default ``Autoencoder`` on it for one epoch, each run in a fresh
process under ``/usr/bin/time -v``, whose peak resident set size is the figure:

- from the file, through the API (``fit(NpySource(path))``): the file's rows are read in
  chunks into one float32 copy (0.63 GB), once as they are ([0, 1]: not scaled) and once
  z-scored (``scaling="standard"``, scaled in place, chunk by chunk);
- from the file, through the command line (``aekit train big.npy``);
- the array already in memory (``fit(np.load(path))``): the caller's float64 array (1.25 GB)
  plus the fit's float32 copy, for reference.

``--src PATH`` measures another checkout's ``src`` folder (an older aekit) the same way, for a
before/after table in one run. Run by hand::

    python benchmarks/memory.py --dir /tmp/aekit-mem
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
N, D = 200_000, 784

RUNS = {
    "file, API": "from aekit.datasets import NpySource; X = NpySource(path)",
    "file, API, z-scored": "from aekit.datasets import NpySource; X = NpySource(path); "
    "params['scaling'] = 'standard'",
    "in memory (float64 array given)": "X = np.load(path)",
    "in memory, z-scored": "X = np.load(path); params['scaling'] = 'standard'",
}
FIT = """
import sys, numpy as np
from aekit import Autoencoder
path = sys.argv[1]
params = dict(epochs=1, random_state=0, verbose=False)
{load}
Autoencoder(**params).fit(X)
"""


def write(path: Path) -> None:
    if path.exists() and path.stat().st_size > N * D * 8:
        return
    images = np.load(MNIST)["x_train"].reshape(-1, D)
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(N, D))
    for start in range(0, N, len(images)):
        rows = images[: min(len(images), N - start)] / 255.0
        X[start : start + len(rows)] = np.clip(rows + rng.normal(0, 0.02, rows.shape), 0, 1)
    X.flush()
    del X


def peak_rss(cmd: list[str], env: dict[str, str]) -> float:
    """Peak RSS in GiB of ``cmd`` under /usr/bin/time -v."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-3000:]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return kb / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/aekit-mem"))
    parser.add_argument("--src", type=Path, help="another checkout's src folder to measure")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / "big.npy"
    write(path)
    print(f"{path}: {N:,} x {D} float64, {path.stat().st_size / 2**30:.2f} GiB")
    print(f"one float32 copy: {N * D * 4 / 2**30:.2f} GiB")
    trees = {"this checkout": ROOT / "src"}
    if args.src is not None:
        trees[str(args.src)] = args.src.resolve()
    for tree, src in trees.items():
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(src)}
        print(f"\n{tree}:")
        for name, load in RUNS.items():
            if "NpySource" in load and not (src / "aekit" / "datasets" / "npy.py").exists():
                continue  # an aekit before the streaming readers
            script = FIT.format(load=load.replace("; ", "\n"))
            gib = peak_rss([sys.executable, "-c", script, str(path)], env)
            print(f"  {name:<34} peak RSS {gib:.2f} GiB")
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "aekit", "train", str(path), "--epochs", "1"]
            gib = peak_rss([*cmd, "--out", f"{out}/model", "--quiet"], env)
        print(f"  {'aekit train big.npy':<34} peak RSS {gib:.2f} GiB")


if __name__ == "__main__":
    main()

"""Kill `aekit train --checkpoint` with SIGKILL at random moments, resume it, compare the bits.

One uninterrupted run (no checkpoint) gives the reference weights and the length of its
training. Each trial then starts `aekit train --checkpoint DIR`, waits until the run has
opened its checkpoint folder (training is about to start), kills it with SIGKILL after a
further random delay drawn over the length of the training (so kills land between epochs,
inside them, while a checkpoint is being written, and a few after the end of training, while
the model is saved), and runs `aekit train --resume DIR` to the end. A trial passes when the
resumed model's weights are bit-identical to the reference. Every process runs at one thread
(OMP_NUM_THREADS=1).

    python benchmarks/kill_resume.py [--data ../shared/data/mnist.npz] [--n 3000] [--kills 20]

``--data digits`` uses scikit-learn's bundled digits (the suite runs it that way, with 2 kills).
Prints one line per trial and a summary; exits 1 when any trial differs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def weights_digest(model_dir: Path) -> str:
    from safetensors.numpy import load_file

    tensors = load_file(str(model_dir / "model.safetensors"))
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name]).tobytes())
    return digest.hexdigest()


def train_command(data: str, out: Path, args: argparse.Namespace, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "aekit",
        "train",
        data,
        "--out",
        str(out),
        "--epochs",
        str(args.epochs),
        "--seed",
        "0",
        "--quiet",
        *extra,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--n", type=int, default=3000, help="training images taken from MNIST")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    args = parser.parse_args(argv)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    work = Path(tempfile.mkdtemp(prefix="aekit-kill-"))
    if args.data == "digits":
        data = "digits"
    else:
        from aekit.datasets import load_mnist

        images = load_mnist(args.data).X_train[: args.n]  # (n, 28, 28) uint8
        data = str(work / "mnist.npy")
        np.save(data, images)

    start = time.perf_counter()
    done = subprocess.run(
        train_command(data, work / "reference", args), env=env, check=True, capture_output=True
    )
    run_time = time.perf_counter() - start
    train_time = float(re.search(rb"in ([0-9.]+) s", done.stdout)[1])  # "trained N epochs in T s"
    reference = weights_digest(work / "reference")
    print(
        f"reference run: {run_time:.1f} s, of which training {train_time:.1f} s; weights "
        f"sha256 {reference[:16]}"
    )

    rng = random.Random(args.seed)
    passed, overheads = 0, []
    for trial in range(1, args.kills + 1):
        folder, out = work / f"ck{trial}", work / f"model{trial}"
        delay = rng.uniform(0.0, 1.1 * train_time)
        proc = subprocess.Popen(
            train_command(data, out, args, "--checkpoint", str(folder)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not (folder / "plan.json").exists() and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        records = sorted(p.name for p in folder.glob("*.json")) if folder.exists() else []
        begun = time.perf_counter()
        subprocess.run(
            train_command(data, out, args, "--resume", str(folder)),
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        overheads.append(time.perf_counter() - begun)
        same = weights_digest(out) == reference
        passed += same
        state = "killed" if killed else "finished before the kill"
        print(
            f"trial {trial:2d}: {state} {delay:5.2f} s into training (checkpoint files: "
            f"{', '.join(records) or 'none'}); resumed in {overheads[-1]:.1f} s; "
            f"{'bit-identical' if same else 'DIFFERENT'}"
        )
    print(f"{passed}/{args.kills} resumed runs bit-identical to the uninterrupted run")
    return 0 if passed == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())

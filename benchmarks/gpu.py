"""Training speed at fp32, bf16 and fp16, compiled or not: aekit against a hand-written loop.

The default convolutional autoencoder (``Autoencoder(architecture="conv")``) on MNIST, for a
fixed number of epochs without early stopping, with the same validation images for every run.
Each aekit setting is timed beside a hand-written PyTorch loop of the same network (the same
module class and configuration; its own initialisation and sample order, so final losses agree
up to run-to-run noise, not to the bit), the same batch size, loss (BCE on the logits), fused
Adam and per-epoch validation loss, at the same precision and compilation (and channels-last
on CUDA at 16 bits, as aekit): the reference. The hand-written loop runs first, so with
``compile`` it also fills inductor's cache. For each run it prints the time of the first epoch
(which includes compilation), the samples per second of the later epochs (of all of them when
there is one epoch), the ratio to the fp32 hand-written loop and to the hand-written loop of
the same setting, and the final validation loss (BCE per pixel, in nats).

Meant for one prepared run on a GPU machine; it runs on a CPU too, to check it::

    python benchmarks/gpu.py                                # CUDA, 5 epochs, all of MNIST
    python benchmarks/gpu.py --device cpu --epochs 1 --n 2000

MNIST is read from ``--data`` (or the first of /work/shared/data/mnist.npz,
../shared/data/mnist.npz, shared/data/mnist.npz); without it, synthetic MNIST-shaped images
(random strokes, seeded) stand in.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import aekit
from aekit.datasets import load_mnist

SEED = 0
# (label, precision, compile) of the aekit runs; each gets a hand-written twin.
SETTINGS = [
    ("fp32", "fp32", False),
    ("bf16", "bf16", False),
    ("fp16", "fp16", False),
    ("bf16+compile", "bf16", True),
]
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CANDIDATES = ["/work/shared/data/mnist.npz", "../shared/data/mnist.npz", "shared/data/mnist.npz"]


def synthetic_mnist(n: int, seed: int = SEED) -> np.ndarray:
    """(n, 28, 28) float32 images in [0, 1]: three blurred random strokes each."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    images = np.zeros((n, 28, 28), np.float32)
    for _ in range(3):
        start = rng.uniform(6, 22, size=(n, 2, 1, 1)).astype(np.float32)
        end = rng.uniform(6, 22, size=(n, 2, 1, 1)).astype(np.float32)
        for t in np.linspace(0.0, 1.0, 8, dtype=np.float32):
            cy, cx = (start + t * (end - start))[:, 0], (start + t * (end - start))[:, 1]
            images += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 3.0)
    return np.clip(images, 0.0, 1.0)


def load_images(path: str | None, n: int | None) -> tuple[np.ndarray, str]:
    candidates = [path] if path else CANDIDATES
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            X = load_mnist(candidate).X_train.astype(np.float32)
            return (X if n is None else X[:n]), f"MNIST ({candidate})"
    if path:
        raise SystemExit(f"{path} does not exist")
    return synthetic_mnist(n or 60_000), "synthetic MNIST-shaped images (no MNIST file found)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reference(
    module: torch.nn.Module,
    X: torch.Tensor,
    X_val: torch.Tensor,
    epochs: int,
    batch_size: int,
    precision: str,
    compiled: bool,
) -> dict[str, Any]:
    """The hand-written loop: permutation, slicing, forward, BCE, backward, Adam step, and the
    validation loss each epoch (in batches of 4096, eval mode, no gradients)."""
    device = X.device
    dtype = DTYPES[precision]
    channels_last = device.type == "cuda" and dtype is not None
    if channels_last:
        module.to(memory_format=torch.channels_last)
    forward = torch.compile(module) if compiled else module
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def autocast() -> Any:
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)

    n = X.shape[0]
    times, val_loss = [], math.nan
    for _ in range(epochs):
        sync(device)
        start = time.perf_counter()
        module.train()
        order = torch.randperm(n, device=device)
        for s in range(0, n, batch_size):
            xb = X[order[s : s + batch_size]]  # (B, 784)
            with autocast():
                loss = F.binary_cross_entropy_with_logits(forward(xb).logits.float(), xb)
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
        module.eval()
        total = torch.zeros((), device=device)
        with torch.no_grad(), autocast():
            for s in range(0, X_val.shape[0], 4096):
                xb = X_val[s : s + 4096]
                out = module(xb).logits.float()
                total += F.binary_cross_entropy_with_logits(out, xb, reduction="sum") / 784
        val_loss = float(total) / X_val.shape[0]  # the epoch's one sync, as in aekit
        times.append(time.perf_counter() - start)
    module.to(memory_format=torch.contiguous_format)
    return {"times": times, "val_loss": val_loss}


def aekit_run(
    X: np.ndarray,
    X_val: np.ndarray,
    epochs: int,
    batch_size: int,
    device: str,
    precision: str,
    compiled: bool,
) -> tuple[dict[str, Any], aekit.Autoencoder]:
    est = aekit.Autoencoder(
        architecture="conv",
        epochs=epochs,
        batch_size=batch_size,
        early_stopping=False,
        precision=precision,
        compile=compiled,
        device=device,
        random_state=SEED,
        verbose=False,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        est.fit(X, validation_data=X_val)
    fallback = [str(w.message) for w in caught if "torch.compile" in str(w.message)]
    times = [h["time"] for h in est.history_]
    return {"times": times, "val_loss": est.history_[-1]["val_loss"], "fallback": fallback}, est


def rate(times: list[float], n: int) -> float:
    """Samples per second of the epochs after the first (of the only one with one epoch)."""
    steady = times[1:] or times
    return n * len(steady) / sum(steady)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="MNIST .npz or IDX folder (default: see the docstring)")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--settings",
        default=",".join(label for label, *_ in SETTINGS),
        help="comma-separated labels among " + ", ".join(label for label, *_ in SETTINGS),
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    chosen = [s for s in SETTINGS if s[0] in args.settings.split(",")]

    images, source = load_images(args.data, args.n)
    n_val = max(1, len(images) // 10)
    X, X_val = images[n_val:], images[:n_val]
    print(f"data: {source}: {len(X)} training and {n_val} validation images")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"device: {device} ({name or platform.machine()}), torch {torch.__version__}")
    print(f"epochs: {args.epochs}, batch size {args.batch_size}, Adam lr 1e-3\n")

    # The network of the default conv autoencoder for these images, as aekit builds it.
    probe = aekit.Autoencoder(architecture="conv", epochs=1, device="cpu", verbose=False)
    probe.fit(X[:64])
    config = probe.module_.config
    module_class = type(probe.module_)
    print(f"network: {module_class.__name__}({config})\n")

    flat = torch.from_numpy(X.reshape(len(X), -1)).to(device)
    flat_val = torch.from_numpy(X_val.reshape(len(X_val), -1)).to(device)
    rows = []
    for label, precision, compiled in chosen:
        torch.manual_seed(SEED)
        module = module_class(config).to(device)
        ref = reference(module, flat, flat_val, args.epochs, args.batch_size, precision, compiled)
        rows.append((f"torch {label}", ref, None))
        ours, _ = aekit_run(
            X, X_val, args.epochs, args.batch_size, args.device, precision, compiled
        )
        rows.append((f"aekit {label}", ours, ref))

    base = next((r for label, r, _ in rows if label == "torch fp32"), None)
    header = (
        f"{'run':<20} {'epoch 1 s':>10} {'samples/s':>11} {'vs torch fp32':>14} "
        f"{'vs torch same':>14} {'val loss':>9}"
    )
    print(header)
    print("-" * len(header))
    for label, result, twin in rows:
        speed = rate(result["times"], len(X))
        vs_base = f"{speed / rate(base['times'], len(X)):.2f}" if base else "-"
        vs_twin = f"{speed / rate(twin['times'], len(X)):.2f}" if twin else "-"
        print(
            f"{label:<20} {result['times'][0]:>10.2f} {speed:>11.0f} {vs_base:>14} "
            f"{vs_twin:>14} {result['val_loss']:>9.4f}"
        )
        for message in result.get("fallback", []):
            print(f"  {message}")


if __name__ == "__main__":
    main()

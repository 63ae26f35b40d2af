"""Reproducible randomness that leaves the caller's global generators as they were."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's generators for the block (CPU and ``device``), then restore their state.

    Everything random inside (initialisation, permutations, dropout, noise) draws from these
    generators, so the same seed gives a bit-identical run on the CPU.
    """
    if device.type == "cpu":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    else:
        index = device.index if device.index is not None else 0
        devices = [index] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type=device.type):
            torch.manual_seed(seed)
            yield

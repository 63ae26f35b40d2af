"""A batch source that streams samples from a file: training on data larger than memory.

:class:`StreamSource` serves the batches of a lazy array (:class:`aekit._lazy.LazyArray`: HDF5,
zarr, ``.npy``, image stacks, Parquet) through torch's ``DataLoader``: worker processes read
and scale the samples (each opens its own file handle) while the main process trains, with
pinned memory and prefetching towards a GPU.

Shuffling is by chunks, so reads stay sequential: an epoch's order takes the storage's chunks
(``chunk_rows`` consecutive samples) in a random order, and shuffles the samples within
windows of a few batches. A worker reads one window at a time, its samples sorted (runs of
consecutive samples become one read), and hands back the window's batches. The order is one
tensor drawn from torch's global generator, like :class:`~aekit.training.sources.TensorSource`'s,
so a seed fixes it and a checkpoint taken between two batches resumes it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from aekit._lazy import LazyArray

# A window (the samples a worker reads at once and shuffles among) holds at least this many
# chunks of the storage, and at least this many batches, so that a batch mixes samples of
# several chunks and each chunk is read once per epoch...
WINDOW_CHUNKS = 8
WINDOW_BATCHES = 4
# ... unless that takes more than this many bytes of float32 samples: the memory held per
# window, times the windows in flight (workers x prefetch).
WINDOW_BYTES = 64 * 2**20
# Windows each worker reads ahead.
PREFETCH = 2


def default_workers() -> int:
    """Reader processes of a stream: one core is left to training, and four readers keep
    ahead of it on local disks (more contend for the same file)."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


class _Windows(Dataset):
    """Item ``i``: the batches of window ``first + i`` of ``order``, read and prepared."""

    def __init__(
        self,
        data: LazyArray,
        rows: np.ndarray,
        order: np.ndarray,
        window: int,
        batch_size: int,
        prepare: Callable[[np.ndarray], np.ndarray],
        first: int,
    ) -> None:
        self.data, self.rows, self.order = data, rows, order
        self.window, self.batch_size, self.prepare, self.first = window, batch_size, prepare, first

    def __len__(self) -> int:
        return max(0, math.ceil(len(self.order) / self.window) - self.first)

    def __getitem__(self, i: int) -> list[np.ndarray]:
        start = (self.first + i) * self.window
        ids = self.rows[self.order[start : start + self.window]]  # (W,) sample numbers
        unique, inverse = np.unique(ids, return_inverse=True)  # sorted: sequential reads
        samples = self.prepare(self.data[unique])[inverse]  # (W, D) float32, in order
        return [samples[b : b + self.batch_size] for b in range(0, len(samples), self.batch_size)]


class StreamSource:
    """Samples ``rows`` of the lazy array ``data``, streamed in batches (a batch source).

    Parameters
    ----------
    data : LazyArray
        The samples, read on demand.
    rows : ndarray of int
        The samples of ``data`` this source serves (a training or a validation share), read in
        increasing order within a window.
    prepare : callable
        Maps raw samples (m, *sample_shape), in the file's dtype, to the network's float32 rows
        (m, D): flattening and scaling. Runs in the reader processes, so it must pickle.
    device : torch.device
        Where the batches go.
    batch_size : int
        The training batch size the windows are sized for.
    workers : int, optional
        Reader processes (:func:`default_workers` by default; 0 reads in this process).
    """

    def __init__(
        self,
        data: LazyArray,
        rows: np.ndarray,
        prepare: Callable[[np.ndarray], np.ndarray],
        device: torch.device,
        batch_size: int,
        workers: int | None = None,
    ) -> None:
        self.data = data
        self.rows = np.sort(np.asarray(rows, dtype=np.int64))
        self.prepare = prepare
        self.device = device
        self.batch_size = int(batch_size)
        self.workers = default_workers() if workers is None else int(workers)
        self.chunk_rows = max(1, int(getattr(data, "chunk_rows", 1)))
        row_bytes = 4 * max(1, math.prod(data.shape[1:]))
        target = max(WINDOW_CHUNKS * self.chunk_rows, WINDOW_BATCHES * batch_size)
        target = min(target, max(batch_size, WINDOW_BYTES // row_bytes))
        self.window_batches = max(1, target // batch_size)  # windows are whole batches

    def __len__(self) -> int:
        return len(self.rows)

    def order(self) -> torch.Tensor:
        n, chunk = len(self), self.chunk_rows
        window = self.window_batches * self.batch_size
        # Positions index self.rows, which is sorted, so consecutive positions are neighbouring
        # samples of the file and a block of them is (about) one chunk: blocks in a random
        # order, then the samples shuffled within each window. All of it is drawn here, from
        # torch's global generator, so that the order alone says what an epoch reads (a
        # checkpoint holds it).
        blocks = torch.randperm(math.ceil(n / chunk))
        positions = (blocks[:, None] * chunk + torch.arange(chunk)[None, :]).flatten()
        positions = positions[positions < n]
        for start in range(0, n, window):
            part = positions[start : start + window]
            positions[start : start + window] = part[torch.randperm(len(part))]
        return positions

    def batches(
        self, order: torch.Tensor | None, batch_size: int, start: int = 0
    ) -> Iterator[list[torch.Tensor]]:
        if order is None:  # evaluation: in file order, a batch per window
            window, positions = batch_size, np.arange(len(self))
        else:
            window, positions = self.window_batches * batch_size, order.cpu().numpy()
        per_window = window // batch_size
        windows = _Windows(
            self.data,
            self.rows,
            positions,
            window,
            batch_size,
            self.prepare,
            start // per_window,
        )
        if self.workers:
            # Each worker opens its own file handle; the parent's is closed so that none is
            # carried across the fork.
            self.data.close()
        loader = DataLoader(
            windows,
            batch_size=None,
            shuffle=False,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=PREFETCH if self.workers else None,
            # The loader draws its workers' seeds from this generator, not torch's global one,
            # whose draws must be the same whether an epoch ran whole or resumed midway.
            generator=torch.Generator(),
        )
        skip = start % per_window
        for window_batches in loader:
            for batch in window_batches[skip:]:
                yield [batch.to(self.device, non_blocking=True)]
            skip = 0

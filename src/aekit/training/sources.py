"""Where the engine's batches come from: the batch-source interface and its in-memory source.

The engine asks a source for one epoch's order (:meth:`BatchSource.order`, drawn from torch's
global generator so that a seed fixes it) and then for the batches of that order from a given
batch on (:meth:`BatchSource.batches`), which is all a checkpoint taken between two batches
needs to resume. :class:`TensorSource` gathers each batch from tensors already on the training
device by indexing; a streaming source (HDF5, zarr) would read the rows of each batch instead,
and a distributed one would hand each process its share of the order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class BatchSource(Protocol):
    """Samples for training or evaluation, served in batches of aligned tensors."""

    device: torch.device  # where the batches' tensors live

    def __len__(self) -> int:
        """Samples per epoch."""
        ...

    def order(self) -> torch.Tensor:
        """A fresh order of the samples for one epoch, a (N,) int64 tensor on ``device``."""
        ...

    def batches(
        self, order: torch.Tensor | None, batch_size: int, start: int = 0
    ) -> Iterator[list[torch.Tensor]]:
        """The batches of ``order`` (``None``: the stored order) from batch number ``start``."""
        ...


class TensorSource:
    """In-memory tensors (one per input: data, targets, ...) of the same first size.

    ``index`` (K,), when given, names the rows of the tensors that are this source's samples,
    in order: a training and a validation source share one tensor of the data this way, without
    a copy of either share.
    """

    def __init__(self, tensors: Sequence[torch.Tensor], index: torch.Tensor | None = None) -> None:
        if not tensors:
            raise ValueError("a TensorSource needs at least one tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError("the tensors of a TensorSource must have the same first size")
        self.tensors = list(tensors)
        self.device = tensors[0].device
        self.index = None if index is None else index.to(self.device, torch.int64)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0] if self.index is None else self.index.shape[0])

    def order(self) -> torch.Tensor:
        # Drawn on the CPU and moved, as before sources existed, so that a seed gives the same
        # permutation on every device.
        return torch.randperm(len(self)).to(self.device)

    def batches(
        self, order: torch.Tensor | None, batch_size: int, start: int = 0
    ) -> Iterator[list[torch.Tensor]]:
        n = len(self) if order is None else len(order)  # a shard's order may be shorter
        for first in range(start * batch_size, n, batch_size):
            if order is None and self.index is None:  # slices are views: no gather
                yield [t[first : first + batch_size] for t in self.tensors]
                continue
            if order is None:
                rows = self.index[first : first + batch_size]  # type: ignore[index]
            else:
                rows = order[first : first + batch_size]
                if self.index is not None:
                    rows = self.index[rows]
            yield [t[rows] for t in self.tensors]


def as_source(data: BatchSource | Sequence[torch.Tensor]) -> BatchSource:
    """``data`` as a batch source: tensors are wrapped in a :class:`TensorSource`."""
    return data if isinstance(data, BatchSource) else TensorSource(data)

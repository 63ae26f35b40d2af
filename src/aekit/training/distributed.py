"""Training in many processes: PyTorch DistributedDataParallel under ``torchrun``.

Nothing here runs in a single process: :func:`world` answers ``None`` unless torchrun's
environment asks for more than one process (``WORLD_SIZE`` > 1) or the caller started a process
group of several, and the engine then adds no wrapper, no collective and no cost.

Under torchrun, every process runs the same fit. aekit starts the process group itself on first
use (gloo for tensors on the CPU, NCCL for tensors on CUDA, each process on ``cuda:LOCAL_RANK``)
and leaves a group the caller started alone. The processes agree on everything that decides the
result, so that the run is the one-process run with the work shared out:

- the seed is rank 0's (:meth:`World.broadcast_json`), so the network starts the same everywhere
  and every epoch's order of the samples is the same on every rank;
- the batch size is global: each batch of the epoch's order is cut into one contiguous share per
  rank (:class:`TrainShard`), and each rank's loss is weighted by ``world * share / batch`` so that
  DDP's average of the gradients is the gradient of the whole batch's mean loss. A rank whose
  share of the last batch is empty still takes part, with a weight-0 row;
- the epoch's losses (and the validation losses, over shares of the validation set) are summed
  across ranks once per epoch, so the history, and every callback's decision made from it, is
  the same everywhere; rank 0's stop decision is the one kept;
- rank 0 alone writes checkpoints and models; every rank restores.

What differs from one process is rounding (sums are taken in another order: the weights agree
to about 1e-7) and, for objectives that draw noise (denoising, dropout, a VAE's sampling),
which rows get which draws; objectives that couple the rows of a batch (KL sparsity, the
detector's trimmed loss) see each rank's share instead of the whole batch.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from aekit.losses import LossOutput

if TYPE_CHECKING:
    from aekit.training.sources import BatchSource

T = TypeVar("T")


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise ValueError(f"the environment variable {name} must be an integer") from None


def _running_group() -> bool:
    return dist.is_available() and dist.is_initialized()


def launched_rank() -> int:
    """This process's rank in a torchrun job (or the caller's process group), 0 otherwise.

    Starts nothing: the command line reads it before any process group exists, to stay silent
    on ranks other than 0.

    Examples
    --------
    >>> launched_rank()  # a single process
    0
    """
    if _running_group():
        return dist.get_rank()
    return _env_int("RANK", 0) if _env_int("WORLD_SIZE", 1) > 1 else 0


def local_device(device: torch.device) -> torch.device:
    """``device`` for this process: under torchrun, CUDA without an index is ``cuda:LOCAL_RANK``.

    An explicit index (``cuda:1``) is kept as given, and a single process keeps ``cuda``.

    Examples
    --------
    >>> local_device(torch.device("cpu"))
    device(type='cpu')
    """
    if device.type != "cuda" or device.index is not None or _env_int("WORLD_SIZE", 1) < 2:
        return device
    index = _env_int("LOCAL_RANK", 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ValueError(
            f"torchrun started process LOCAL_RANK={index} on a machine with {count} CUDA "
            "device(s): start at most one process per GPU (--nproc-per-node)"
        )
    return torch.device("cuda", index)


def _destroy() -> None:
    if _running_group():
        dist.destroy_process_group()


def _start_group(size: int) -> None:
    """Start the process group torchrun's environment describes (``env://``)."""
    if not dist.is_available():
        raise ValueError(
            f"WORLD_SIZE={size} asks for {size} processes, but this build of torch has no "
            "torch.distributed"
        )
    cuda = torch.cuda.is_available() and dist.is_nccl_available()
    # One group, two backends: NCCL for CUDA tensors (gradients on GPUs), gloo for CPU
    # tensors (CPU training, and the small exchanges of seeds and stop decisions).
    backend = "cpu:gloo,cuda:nccl" if cuda else "gloo"
    local = _env_int("LOCAL_RANK", 0)
    # Each process's GPU; more processes than GPUs may still train on the CPUs (a CUDA fit
    # is then refused by local_device).
    if cuda and local < torch.cuda.device_count():
        torch.cuda.set_device(local)
    try:
        dist.init_process_group(backend)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"WORLD_SIZE={size} asks for {size} processes, but the process group could not "
            f"start ({first}); launch with torchrun, which sets RANK, MASTER_ADDR and "
            "MASTER_PORT"
        ) from None
    # Torch warns at exit about a group left running; the group is ours to close.
    atexit.register(_destroy)


def world() -> World | None:
    """The processes training together, or ``None`` for a single process.

    Under torchrun (``WORLD_SIZE`` > 1) the process group is started on first use, unless the
    caller started one (which is then used as it is). ``None`` costs one look at the
    environment.

    Examples
    --------
    >>> world() is None  # a single process: no process group, no collective
    True
    """
    if not _running_group():
        size = _env_int("WORLD_SIZE", 1)
        if size < 2:
            return None
        _start_group(size)
    size = dist.get_world_size()
    if size < 2:
        return None
    # Small exchanges go where the group can take them: the CPU, unless it is NCCL alone.
    comm = torch.device("cpu")
    if dist.get_backend() == "nccl":
        comm = torch.device("cuda", torch.cuda.current_device())
    return World(dist.get_rank(), size, comm)


@dataclass(frozen=True)
class World:
    """The processes of a running process group, seen from one of them.

    Parameters
    ----------
    rank : int
        This process's rank (0 writes checkpoints and models).
    size : int
        The number of processes.
    comm : torch.device
        Where the small tensors of :meth:`broadcast_json` travel from.
    """

    rank: int
    size: int
    comm: torch.device

    def broadcast_json(self, value: Any) -> Any:
        """Rank 0's ``value`` (a JSON value) on every rank; JSON, so nothing is unpickled."""
        data = json.dumps(value).encode() if self.rank == 0 else b""
        length = torch.tensor([len(data)], dtype=torch.int64, device=self.comm)
        dist.broadcast(length, 0)
        if self.rank == 0:
            payload = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(self.comm)
        else:
            payload = torch.empty(int(length.item()), dtype=torch.uint8, device=self.comm)
        dist.broadcast(payload, 0)
        return json.loads(payload.cpu().numpy().tobytes().decode())

    def on_rank0(self, fn: Callable[[], T]) -> T:
        """``fn()`` run by rank 0 alone, its JSON result on every rank.

        An exception on rank 0 is raised on every rank (a ``ValueError`` as the same
        ``ValueError``, anything else as a ``RuntimeError`` naming it), so that no rank waits
        for the others in vain.
        """
        outcome: dict[str, Any] | None = None
        caught: BaseException | None = None
        if self.rank == 0:
            try:
                outcome = {"value": fn()}
            except ValueError as exc:
                caught, outcome = exc, {"error": str(exc)}
            except Exception as exc:
                caught, outcome = exc, {"failed": f"{type(exc).__name__}: {exc}"}
        shared = self.broadcast_json(outcome)
        if caught is not None:
            raise caught
        if "error" in shared:
            raise ValueError(shared["error"])
        if "failed" in shared:
            raise RuntimeError(f"rank 0 failed: {shared['failed']}")
        return shared["value"]  # type: ignore[no-any-return]

    def data_parallel(
        self,
        module: nn.Module,
        objective: Callable[..., LossOutput],
        source: BatchSource,
        val: BatchSource | None,
        batch_size: int,
    ) -> DataParallel:
        """The set-up of one training run over these processes (see :class:`DataParallel`)."""
        return DataParallel(self, module, objective, source, val, batch_size)

    def check_same_sizes(self, *sizes: int) -> None:
        """Refuse, on every rank alike, sizes (of the training data, ...) that differ between
        ranks: the ranks share out one data set, so each must be given all of it."""
        local = torch.tensor([*sizes, *(-s for s in sizes)], dtype=torch.int64, device=self.comm)
        dist.all_reduce(local, op=dist.ReduceOp.MAX)
        k = len(sizes)
        highest, lowest = local[:k].tolist(), [-v for v in local[k:].tolist()]
        if highest != lowest:
            raise ValueError(
                "the processes were given different data: from "
                f"{lowest} to {highest} samples (training, validation); every process of a "
                "torchrun job must fit on the same data"
            )

    def sync_rng(self, device: torch.device) -> None:
        """Give every rank rank 0's random generators (the CPU's, and ``device``'s on CUDA)."""
        parts = [torch.get_rng_state()]
        if device.type == "cuda":
            parts.append(torch.cuda.get_rng_state(device))
        state = torch.cat(parts).to(self.comm)
        dist.broadcast(state, 0)
        if self.rank:
            state = state.cpu()
            cpu = parts[0].numel()
            torch.set_rng_state(state[:cpu].clone())
            if device.type == "cuda":
                torch.cuda.set_rng_state(state[cpu:].clone(), device)


def _has_unused_parameters(
    module: nn.Module, objective: Callable[..., LossOutput], source: BatchSource
) -> bool:
    """Whether a trainable parameter of ``module`` takes no part in ``objective``'s loss.

    Probed on the source's first sample, in eval mode (batch normalisation keeps its running
    statistics) and with the random generators restored afterwards, so the probe leaves no
    trace; the autograd graph of the loss is searched for the parameters it reaches.
    """
    batch = next(iter(source.batches(None, 1)), None)
    if batch is None:
        return False
    device = source.device
    was_training = module.training
    module.eval()
    try:
        with torch.random.fork_rng(devices=[device.index] if device.type == "cuda" else []):
            total = objective(module, *batch).total
    finally:
        module.train(was_training)
    reached: set[int] = set()
    seen: set[Any] = set()
    stack = [total.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # a leaf's gradient accumulator
        if variable is not None:
            reached.add(id(variable))
        stack.extend(child for child, _ in node.next_functions)
    return any(id(p) not in reached for p in module.parameters() if p.requires_grad)


def _shares(batch_size: int, size: int) -> list[int]:
    """Where each rank's contiguous share of a batch begins, and the batch's end."""
    return [batch_size * r // size for r in range(size + 1)]


class TrainShard:
    """Rank ``rank``'s part of a training source whose batch size is global.

    Each batch of the epoch's order is cut into ``size`` contiguous shares, at
    ``batch_size * r // size``; the last, shorter batch keeps the same cuts, so its later shares
    may be short or empty. A share is served with its weight ``size * rows / batch_rows``
    appended to the batch: the loss times the weight, averaged over the ranks (as DDP averages
    gradients), is the mean loss of the whole batch. An empty share is served as one row of the
    previous batch (or of the batch) with weight 0, so that the rank still takes part.

    The order is the same on every rank (``sync``, run before each epoch's order is drawn,
    gives every rank rank 0's random generators), so the shares never overlap. A rank reads
    only its own rows: a streaming source reads only its share of the file.

    Parameters
    ----------
    source : BatchSource
        The samples, as every rank sees them.
    rank, size : int
        This rank and the number of ranks.
    sync : callable, optional
        Run before drawing each epoch's order: makes the order the same on every rank.
    decorrelate : bool, default=False
        After the order is drawn, reseed ranks other than 0 apart, so that noise drawn in the
        objective (denoising, dropout) differs between ranks. Rank 0 keeps its generators.

    Examples
    --------
    >>> from aekit.training.sources import TensorSource
    >>> rows = TensorSource([torch.arange(10.0)[:, None]])
    >>> order = torch.arange(10)
    >>> [(b[0].flatten().tolist(), float(b[1])) for b in TrainShard(rows, 1, 2).batches(order, 4)]
    [([2.0, 3.0], 1.0), ([6.0, 7.0], 1.0), ([6.0], 0.0)]
    """

    def __init__(
        self,
        source: BatchSource,
        rank: int,
        size: int,
        sync: Callable[[], None] | None = None,
        decorrelate: bool = False,
    ) -> None:
        self.source, self.rank, self.size = source, rank, size
        self.device = source.device
        self._sync = sync
        self._decorrelate = decorrelate
        self._weights: dict[tuple[int, int], torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.source)

    def order(self) -> torch.Tensor:
        if self._sync is not None:
            self._sync()
        order = self.source.order()
        if self._decorrelate and self.rank:
            # Drawn from the generators every rank shares now, then set apart by rank; the
            # next epoch's sync makes them equal again.
            base = int(torch.randint(0, 2**62, ()).item())
            torch.manual_seed(base + self.rank)
        return order

    def _weight(self, rows: int, whole: int) -> torch.Tensor:
        """The weight of a share of ``rows`` rows of a batch of ``whole`` rows."""
        # A CPU scalar: multiplying a tensor on any device by it needs no transfer.
        weight = self._weights.get((rows, whole))
        if weight is None:
            weight = torch.tensor(self.size * rows / whole, dtype=torch.float32)
            self._weights[rows, whole] = weight
        return weight

    def batches(
        self, order: torch.Tensor | None, batch_size: int, start: int = 0
    ) -> Iterator[list[torch.Tensor]]:
        if batch_size < self.size:
            raise ValueError(
                f"batch_size ({batch_size}) must be at least the number of processes "
                f"({self.size}): each batch is shared among them"
            )
        n = len(self)
        if order is None:
            order = torch.arange(n, device=self.device)
        cuts = _shares(batch_size, self.size)
        lo, hi = cuts[self.rank], cuts[self.rank + 1]
        full = n // batch_size
        mine = [order[: full * batch_size].reshape(full, batch_size)[:, lo:hi].reshape(-1)]
        last = order[full * batch_size :]
        tail = last[lo:hi]  # this rank's share of the last batch: maybe short, maybe empty
        mine.append(tail)
        # The last share is never longer than the others, so one pass over the rows gives
        # every batch, the last one (if any rows) included. Counted, because a source may
        # size its pass by its own length rather than by the order's.
        count = max(0, full + (1 if len(tail) else 0) - start)
        previous: list[torch.Tensor] | None = None
        passes = self.source.batches(torch.cat(mine), hi - lo, start)
        for number, batch in enumerate(itertools.islice(passes, count), start):
            previous = batch
            whole = batch_size if number < full else len(last)  # rows of the global batch
            yield [*batch, self._weight(batch[0].shape[0], whole)]
        if len(last) and not len(tail) and start <= full:
            if previous is None:  # no batch of its own at all: the batch's first row
                previous = next(iter(self.source.batches(last[:1], 1)))
            yield [*(t[:1] for t in previous), self._weight(0, len(last))]


class EvalShard:
    """Rank ``rank``'s part of a validation source: a contiguous range of its rows.

    :func:`aekit.training.evaluate` over the shard gives this rank's part of the mean (sums
    over its rows divided by all the rows); the parts add up, times :attr:`factor`, to the
    mean. A set with fewer rows than ranks is evaluated whole by every rank (``factor``
    ``1/size``).

    Examples
    --------
    >>> from aekit.training.sources import TensorSource
    >>> rows = TensorSource([torch.arange(5.0)[:, None]])
    >>> [b[0].flatten().tolist() for b in EvalShard(rows, 1, 2).batches(None, 2)]
    [[2.0, 3.0], [4.0]]
    """

    def __init__(self, source: BatchSource, rank: int, size: int) -> None:
        self.source = source
        self.device = source.device
        n = len(source)
        self.factor = 1.0 if n >= size else 1.0 / size
        self._range = (n * rank // size, n * (rank + 1) // size) if n >= size else (0, n)

    def __len__(self) -> int:
        return len(self.source)

    def order(self) -> torch.Tensor:
        return self.source.order()

    def batches(
        self, order: torch.Tensor | None, batch_size: int, start: int = 0
    ) -> Iterator[list[torch.Tensor]]:
        lo, hi = self._range
        rows = torch.arange(lo, hi, device=self.device) if order is None else order[lo:hi]
        count = max(0, -(-(hi - lo) // batch_size) - start)  # as TrainShard.batches counts
        return itertools.islice(self.source.batches(rows, batch_size, start), count)


class DataParallel:
    """One training run over several processes: what :func:`aekit.training.train` uses.

    :attr:`forward` is the module wrapped in ``DistributedDataParallel`` (what the objective
    is called with in training: its backward pass averages the gradients over the ranks);
    :attr:`objective` weights the loss of each share (see :class:`TrainShard`); :attr:`source`
    and :attr:`val` are the shards. The module itself is left as it was: callbacks,
    checkpoints, evaluation and the estimator use the plain module.
    """

    def __init__(
        self,
        world: World,
        module: nn.Module,
        objective: Callable[..., LossOutput],
        source: BatchSource,
        val: BatchSource | None,
        batch_size: int,
    ) -> None:
        from torch.nn.parallel import DistributedDataParallel

        class ModuleDDP(DistributedDataParallel):
            # Objectives read the module's own attributes too (a VAE's log_scale), which
            # the wrapper does not have: they come from the module.
            def __getattr__(self, name: str) -> Any:
                try:
                    return super().__getattr__(name)
                except AttributeError:
                    if name == "module":  # not set yet, while DDP builds itself
                        raise
                    return getattr(self.module, name)

        if batch_size < world.size:
            raise ValueError(
                f"batch_size ({batch_size}) must be at least the number of processes "
                f"({world.size}): each batch is shared among them"
            )
        device = next(module.parameters()).device
        if device.type not in ("cpu", "cuda"):
            raise ValueError(
                f"training on several processes runs on CPUs (gloo) and CUDA GPUs (NCCL), "
                f"not on {device.type}"
            )
        self.world = world
        world.check_same_sizes(len(source), 0 if val is None else len(val))
        # DDP must be told of parameters that take no part in the loss (a VAE's log_scale
        # under a Bernoulli likelihood), and then searches the graph at every step, or the
        # second step fails; told in vain, it warns on every rank. So ask the objective once.
        self.forward = ModuleDDP(
            module,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=_has_unused_parameters(module, objective, source),
        )

        def weighted(forward: nn.Module, *batch: torch.Tensor) -> LossOutput:
            *tensors, weight = batch
            out = objective(forward, *tensors)
            return LossOutput(out.total * weight, {k: v * weight for k, v in out.terms.items()})

        self.objective = weighted
        self.source = TrainShard(
            source, world.rank, world.size, lambda: world.sync_rng(device), decorrelate=True
        )
        self.val = None if val is None else EvalShard(val, world.rank, world.size)

    def reduce_epoch(
        self, means: torch.Tensor, val: dict[str, float] | None, interrupted: bool
    ) -> tuple[torch.Tensor, dict[str, float] | None, bool]:
        """The epoch's mean losses, validation losses and interruption over all ranks, from
        this rank's parts (one collective)."""
        parts = [means / self.world.size]
        if val is not None:
            factor = self.val.factor if self.val is not None else 1.0
            values = torch.tensor(list(val.values()), dtype=means.dtype, device=means.device)
            parts.append(values * factor)
        parts.append(torch.tensor([float(interrupted)], dtype=means.dtype, device=means.device))
        total = torch.cat(parts)
        dist.all_reduce(total)
        k = means.shape[0]
        *rest, flag = total[k:].tolist()
        if val is not None:
            val = dict(zip(val, rest, strict=True))
        return total[:k], val, flag > 0

    def agree(self, stop_reason: str | None) -> str | None:
        """Rank 0's decision to stop (or not), on every rank."""
        return self.world.broadcast_json(stop_reason)  # type: ignore[no-any-return]

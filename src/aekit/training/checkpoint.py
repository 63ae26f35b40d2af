"""Training checkpoints: a folder from which a killed fit resumes bit-identically.

The folder holds ``plan.json`` (what the run is: the estimator, its parameters, a fingerprint of
the training data and the seed) and, for every training stage of the fit (``fit``, or
``pretrain-1``, ..., ``finetune`` for a stacked classifier), its latest state as a pair of files
``STAGE-NNNNNN.safetensors`` (tensors: weights, best weights, optimiser state, torch's random
generator state, the order and losses of an interrupted epoch) and ``STAGE-NNNNNN.json`` (the
rest: epoch, history, early-stopping and callback state, optimiser hyperparameters, fp16's
loss scale, the SHA-256 of the tensors file). Nothing is pickled. Each file is written
atomically (a temporary file, fsync, rename); the JSON goes last and names its tensors' hash,
so a kill at any moment leaves the previous pair or the new one, never a mix; older pairs are
removed once a new pair is whole. A finished stage keeps one record of its result (weights,
history, random state), so resuming skips it.

All other randomness of a fit (splits, folds, noise of a VAE's validation data) is drawn from
the fit's seed, which the plan keeps: a run with ``random_state=None`` resumes with the seed it
drew. On the CPU, with the same thread count, a resumed run ends with the same bits as one that
was never interrupted (tests/test_checkpoint.py kills runs with SIGKILL to check it).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from aekit._untrusted import read_bounded, read_json
from aekit._validation import Integer, check_value, is_int
from aekit.io.atomic import atomic_file, remove_dead_leftovers
from aekit.training.distributed import launched_rank, world

if TYPE_CHECKING:
    from collections.abc import Sequence

    from torch import nn

    from aekit.training.callbacks import Callback
    from aekit.training.engine import TrainResult, TrainState

FORMAT = "aekit-checkpoint"
VERSION = 1
PLAN = "plan.json"
# Largest JSON file read back: a history of a million epochs stays far below it.
MAX_JSON_BYTES = 256 * 2**20
# Largest tensors file read back (weights, best weights and Adam's two moments: 4x the model).
MAX_TENSOR_BYTES = 64 * 2**30
_RECORD = re.compile(r"^(?P<stage>[a-z0-9][a-z0-9-]*)-(?P<seq>\d{6})\.json$")


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _differences(saved: Any, now: Any, prefix: str = "") -> list[str]:
    """Lines naming what differs between two JSON values (dicts compared key by key)."""
    if isinstance(saved, dict) and isinstance(now, dict):
        lines = []
        for key in sorted(set(saved) | set(now), key=str):
            lines += _differences(saved.get(key), now.get(key), f"{prefix}{key}" + ".")
        return lines
    if saved != now:
        return [f"{prefix.rstrip('.')}: {saved!r} there, {now!r} now"]
    return []


def check_checkpoint_dir(path: str | Path, resume: bool) -> Path:
    """Refuse ``path`` as a checkpoint folder unless it is absent, empty, or (with ``resume``)
    an aekit checkpoint; returns it. Cheap: call it before any work (the plan is compared when
    the run starts, by :class:`Checkpoint`)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a folder")
    if not path.exists() or not any(path.iterdir()):
        return path
    if not (path / PLAN).is_file():
        raise ValueError(
            f"{path} is not empty and is not an aekit checkpoint (it has no {PLAN}); "
            "give an empty or a new folder"
        )
    if not resume:
        raise ValueError(
            f"{path} holds a checkpoint of an earlier run; resume it (resume=True, or "
            "aekit train --resume), or give another folder"
        )
    return path


class Checkpoint:
    """A checkpoint folder for one fit (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The folder. It must be absent, empty, or (with ``resume=True``) a checkpoint of the
        same run; a checkpoint is never overwritten by a new run, and a folder holding anything
        else is refused.
    plan : dict
        JSON description of the run (estimator, parameters, data fingerprint); resuming with a
        different plan is refused with the differences named.
    seed : int
        The seed of a new run (ignored when resuming: the saved one is used, see :attr:`seed`).
    every : int, default=1
        Save every ``every`` epochs (and always on Ctrl-C and at the end of each stage).
    resume : bool, default=False
        Continue from the checkpoint in ``path`` if there is one (a fresh start otherwise).
    defaults : dict, optional
        Parameter -> default value: a checkpoint whose plan predates a parameter (written by an
        older aekit) resumes when that parameter has its default now.

    Notes
    -----
    Under torchrun (:mod:`aekit.training.distributed`) rank 0 alone checks the folder and
    writes the plan and the records, and every rank restores from them: the folder must be on a
    filesystem that every machine of the job sees.
    """

    def __init__(
        self,
        path: str | Path,
        plan: dict[str, Any],
        seed: int,
        *,
        every: int = 1,
        resume: bool = False,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        check_value("checkpoint_every", every, Integer(1))
        self._defaults = json.loads(json.dumps(defaults or {}))
        self.path = Path(path)
        self.every = int(every)
        self.resumed = False
        plan = json.loads(json.dumps(plan))  # as it reads back (tuples become lists)
        processes = world()
        if processes is None:
            self._open(plan, seed, resume)
        else:
            # Rank 0 alone checks the folder and writes the plan (the folder is shared by the
            # ranks); every rank takes its answer, the seed or the same error.
            self.seed, self.resumed = processes.on_rank0(lambda: self._open(plan, seed, resume))

    def _open(self, plan: dict[str, Any], seed: int, resume: bool) -> tuple[int, bool]:
        """Check the folder, compare or write the plan; the run's seed and whether there
        is a state to resume."""
        check_checkpoint_dir(self.path, resume)
        saved = self._saved_plan()
        if saved is not None:
            params = saved["plan"].get("params")
            if isinstance(params, dict):  # parameters added since: their defaults
                saved["plan"]["params"] = {**self._defaults, **params}
            differences = _differences(saved["plan"], plan)
            if differences:
                raise ValueError(
                    f"the checkpoint in {self.path} was written for another run: "
                    + "; ".join(differences[:5])
                    + ("; ..." if len(differences) > 5 else "")
                )
            self.seed = int(saved["seed"])
            self.resumed = any(self._records())
            remove_dead_leftovers(self.path)  # temporary files of a killed run
        else:
            self.seed = int(seed)
            self.path.mkdir(parents=True, exist_ok=True)
            document = {"format": FORMAT, "version": VERSION, "plan": plan, "seed": self.seed}
            with atomic_file(self.path / PLAN, "w") as f:
                json.dump(document, f, indent=1)
        return self.seed, self.resumed

    def _saved_plan(self) -> dict[str, Any] | None:
        path = self.path
        if not (path / PLAN).is_file():
            return None
        document = read_json(path / PLAN, MAX_JSON_BYTES, "checkpoint plan")
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"{path / PLAN} is not an aekit checkpoint plan")
        version = document.get("version")
        if not is_int(version) or version > VERSION:
            raise ValueError(
                f"{path} was written by a newer aekit (checkpoint version {version!r}; this "
                f"one reads version {VERSION}); upgrade aekit to resume it"
            )
        if not isinstance(document.get("plan"), dict) or not is_int(document.get("seed")):
            raise ValueError(f"{path / PLAN} is damaged: no plan or seed")
        return document

    def _records(self, stage: str | None = None) -> list[tuple[int, Path]]:
        """(sequence number, JSON path) of the saved records, newest first."""
        found = []
        for entry in self.path.iterdir():
            match = _RECORD.match(entry.name)
            if match and (stage is None or match["stage"] == stage):
                found.append((int(match["seq"]), entry))
        return sorted(found, reverse=True)

    def stage(self, name: str) -> StageCheckpoint:
        """The checkpoint of the training stage ``name`` (lowercase letters, digits, dashes)."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            raise ValueError(f"a checkpoint stage name must be lowercase and dashes: {name!r}")
        return StageCheckpoint(self, name)


class StageCheckpoint:
    """Saves and restores one training stage; :func:`aekit.training.train` drives it."""

    def __init__(self, owner: Checkpoint, name: str) -> None:
        self.owner = owner
        self.name = name
        self.every = owner.every

    # ------------------------------------------------------------------ writing
    def _write(self, document: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        if launched_rank() != 0:  # under torchrun every rank holds the same state: one writes
            return
        records = self.owner._records(self.name)
        seq = records[0][0] + 1 if records else 0
        stem = self.owner.path / f"{self.name}-{seq:06d}"
        data = save_tensors({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()})
        with atomic_file(stem.with_suffix(".safetensors")) as f:
            f.write(data)
        document = {
            "format": FORMAT,
            "version": VERSION,
            "stage": self.name,
            "tensors_sha256": _digest(data),
            **document,
        }
        with atomic_file(stem.with_suffix(".json"), "w") as f:
            json.dump(document, f, allow_nan=False)
        for _, old in records:  # the new pair is whole: the older ones are not needed
            old.with_suffix(".safetensors").unlink(missing_ok=True)
            old.unlink(missing_ok=True)

    @staticmethod
    def _rng_tensors(device: torch.device) -> dict[str, torch.Tensor]:
        tensors = {"rng.torch": torch.get_rng_state()}
        if device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
        return tensors

    def save_every(self, state: TrainState, callbacks: Sequence[Callback]) -> None:
        """Save at the end of an epoch when it is the ``every``-th one."""
        if state.epoch % self.every == 0:
            self.save(state, callbacks)

    def save(self, state: TrainState, callbacks: Sequence[Callback]) -> None:
        """Save the whole training state (between epochs, or between batches when
        ``state.position`` is set)."""
        device = next(state.module.parameters()).device
        tensors = {f"module.{k}": v for k, v in state.module.state_dict().items()}
        if state.best_state is not None:
            tensors.update({f"best.{k}": v for k, v in state.best_state.items()})
        optimizer = state.optimizer.state_dict()
        moments: dict[str, dict[str, Any]] = {}
        for index, values in optimizer["state"].items():
            moments[str(index)] = {}
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.{index}.{key}"] = value
                    moments[str(index)][key] = None  # a tensor, in the tensors file
                else:
                    moments[str(index)][key] = {"value": value}
        tensors.update(self._rng_tensors(device))
        position = None
        if state.position is not None:
            order, done, rows, names = state.position
            tensors["position.order"] = order
            tensors["position.rows"] = rows
            position = {"next_batch": done, "names": names}
        self._write(
            {
                "kind": "state",
                "epoch": state.epoch,
                "history": state.history,
                "best": _json_number(state.best),
                "best_epoch": state.best_epoch,
                "callbacks": [
                    {"name": type(c).__name__, "state": c.state_dict()} for c in callbacks
                ],
                "optimizer": {"param_groups": optimizer["param_groups"], "state": moments},
                # fp16's loss scale and its growth count (JSON numbers; {} without a scaler).
                "scaler": {} if state.runner is None else state.runner.state_dict(),
                "position": position,
            },
            tensors,
        )

    def finish(self, module: nn.Module, result: TrainResult) -> None:
        """Record the finished stage: its final weights, result and random state."""
        device = next(module.parameters()).device
        tensors = {f"module.{k}": v for k, v in module.state_dict().items()}
        tensors.update(self._rng_tensors(device))
        self._write(
            {
                "kind": "done",
                "history": result.history,
                "best_epoch": result.best_epoch,
                "stop_reason": result.stop_reason,
            },
            tensors,
        )

    # ------------------------------------------------------------------ reading
    def _latest(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
        """The newest whole record of this stage (JSON and tensors whose hash matches)."""
        for _, path in self.owner._records(self.name):
            document = read_json(path, MAX_JSON_BYTES, "checkpoint")
            tensors_path = path.with_suffix(".safetensors")
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                raise ValueError(f"{path} is not an aekit checkpoint record")
            if not tensors_path.is_file():
                continue  # removed after a newer pair was written, by a run killed since
            data = bytes(read_bounded(tensors_path, MAX_TENSOR_BYTES, "checkpoint tensors"))
            if _digest(data) != document.get("tensors_sha256"):
                raise ValueError(f"{tensors_path} does not match {path.name} (damaged)")
            return document, load_tensors(data)
        return None

    def restore(self, state: TrainState, callbacks: Sequence[Callback]) -> TrainResult | None:
        """Load the stage's latest record into ``state`` and ``callbacks``; the result when the
        stage had finished (``state.module`` then holds its final weights), else ``None``."""
        from aekit.training.engine import Position, TrainResult

        latest = self._latest()
        if latest is None:
            return None
        document, tensors = latest
        module = state.module
        device = next(module.parameters()).device

        def part(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

        try:
            module.load_state_dict(part("module."))
        except RuntimeError as exc:
            raise ValueError(
                f"the checkpoint of stage {self.name!r} in {self.owner.path} does not match "
                f"this model: {str(exc).splitlines()[0]}"
            ) from None
        torch.set_rng_state(tensors["rng.torch"])
        if device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], device)
        if document["kind"] == "done":
            module.eval()
            return TrainResult(
                list(document["history"]), int(document["best_epoch"]), document["stop_reason"]
            )

        # Callbacks find their state by class name; one without saved state starts afresh
        # (a progress bar, or a callback added for the resumed run).
        saved_states: dict[str, list[dict[str, Any]]] = {}
        for saved in document["callbacks"]:
            saved_states.setdefault(saved["name"], []).append(saved["state"])
        for callback in callbacks:
            queue = saved_states.get(type(callback).__name__)
            if queue:
                callback.load_state_dict(queue.pop(0))
        fresh = state.optimizer.state_dict()
        groups = []
        for group, saved_group in zip(
            fresh["param_groups"], document["optimizer"]["param_groups"], strict=True
        ):
            # JSON turned tuples (Adam's betas) into lists: give them back their type.
            groups.append(
                {
                    k: tuple(v) if isinstance(group.get(k), tuple) else v
                    for k, v in saved_group.items()
                }
            )
        moments = {
            int(index): {
                key: tensors[f"optim.{index}.{key}"] if value is None else value["value"]
                for key, value in values.items()
            }
            for index, values in document["optimizer"]["state"].items()
        }
        state.optimizer.load_state_dict({"state": moments, "param_groups": groups})
        if state.runner is not None:  # records written before precision existed have none
            state.runner.load_state_dict(document.get("scaler") or {})
        best = part("best.")
        state.best_state = {k: v.to(device) for k, v in best.items()} if best else None
        state.best = math.inf if document["best"] is None else float(document["best"])
        state.best_epoch = int(document["best_epoch"])
        state.epoch = int(document["epoch"])
        state.history = list(document["history"])
        position = document["position"]
        if position is not None:
            state.position = Position(
                tensors["position.order"].to(device),
                int(position["next_batch"]),
                tensors["position.rows"].to(device),
                list(position["names"]),
            )
        self.owner.resumed = True
        return None

"""Machinery shared by the estimators: validation, seeding, batched inference, saved state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from aekit.data import Scaling, check_samples
from aekit.training import resolve_device

# Samples per forward pass at inference; large batches are fast and the result does not depend
# on the batch size.
INFERENCE_BATCH = 4096


class TorchEstimator(BaseEstimator):
    """Base of every aekit estimator: owns the torch module as ``module_``.

    Subclasses define their parameters in ``__init__`` (stored as they are) and their model in
    ``fit``; this class gives them validated input, a seed drawn from ``random_state``, batched
    inference on the fitted device and the state a saved model is made of.
    """

    # Fitted attributes written to config.json (JSON values) by `aekit.io.save`.
    _json_state: tuple[str, ...] = ("n_features_in_", "input_shape_", "history_", "best_epoch_")
    # Fitted numpy arrays written beside the weights in model.safetensors.
    _array_state: tuple[str, ...] = ()

    def _set_state(self, name: str, value: Any) -> None:
        """Restore the fitted attribute ``name`` from its JSON value (see ``_json_state``)."""
        setattr(self, name, tuple(value) if name == "input_shape_" else value)

    def _validate(self, X: Any, *, reset: bool) -> tuple[np.ndarray, tuple[int, ...]]:
        if not reset:
            check_is_fitted(self, "module_")
        return check_samples(self, X, reset=reset, min_samples=2 if reset else 1)

    def _draw_seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _resolve_device(self) -> torch.device:
        self.device_ = resolve_device(self.device)
        return self.device_

    def _scale(self, X: np.ndarray) -> np.ndarray:
        scaling: Scaling | None = self.scaling_
        return X if scaling is None else scaling.transform(X)

    def _unscale(self, X: np.ndarray) -> np.ndarray:
        scaling: Scaling | None = self.scaling_
        return X if scaling is None else scaling.inverse_transform(X)

    @torch.no_grad()
    def _map_batches(self, fn: Callable[[torch.Tensor], torch.Tensor], X: np.ndarray) -> np.ndarray:
        """Apply ``fn`` to float32 rows of ``X`` batch by batch on the fitted device."""
        self.module_.eval()
        outputs = []
        for start in range(0, X.shape[0], INFERENCE_BATCH):
            batch = torch.from_numpy(X[start : start + INFERENCE_BATCH]).to(self.device_)
            outputs.append(fn(batch).float().cpu().numpy())
        return np.concatenate(outputs, axis=0)

    def save(self, path: str | Path) -> Path:
        """Save the fitted model to the directory ``path`` (see :func:`aekit.io.save`).

        Returns the path of the directory.
        """
        from aekit.io import save

        return save(self, path)

"""Reconstruction losses L(x, x_hat), per sample (mean over features), plus the loss container.

- ``"mse"``: squared error, mean over features: (1/D) sum_i (x_i - x_hat_i)^2.
- ``"bce"``: binary cross-entropy, mean over features:
  -(1/D) sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)], computed from the logits
  (x_hat = sigmoid(logits)) with the log-sum-exp form, which never takes log(0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from aekit.models import AutoencoderOutput


class LossOutput(NamedTuple):
    total: torch.Tensor  # () the scalar the optimiser minimises
    terms: dict[str, torch.Tensor]  # name -> () each term of the loss breakdown, for the history


def _reduce(per_element: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_element.mean()  # the batch mean of the per-sample means (equal sizes)
    return per_element.flatten(1).mean(1)


def squared_error(
    out: AutoencoderOutput, target: torch.Tensor, reduction: str = "none"
) -> torch.Tensor:
    """Mean squared error per sample ``(B,)``, or its batch mean with ``reduction="mean"``."""
    return _reduce((out.x_hat - target).square(), reduction)


def binary_cross_entropy(
    out: AutoencoderOutput, target: torch.Tensor, reduction: str = "none"
) -> torch.Tensor:
    """Binary cross-entropy from the logits per sample ``(B,)``, or its batch mean with
    ``reduction="mean"``; targets in [0, 1]."""
    if reduction == "mean":  # one fused kernel, no (B, D) intermediate kept for backward
        return F.binary_cross_entropy_with_logits(out.logits, target)
    return _reduce(
        F.binary_cross_entropy_with_logits(out.logits, target, reduction="none"), reduction
    )


# Name -> per-sample loss. Both are means over features, so their values read "per pixel".
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "mse": squared_error,
    "bce": binary_cross_entropy,
}


def resolve_loss(loss: str, output_activation: str) -> str:
    """Resolve ``"auto"``: BCE for a sigmoid output (data in [0, 1]), squared error otherwise."""
    if loss == "auto":
        return "bce" if output_activation == "sigmoid" else "mse"
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose 'auto' or one of {sorted(LOSSES)}")
    if loss == "bce" and output_activation != "sigmoid":
        raise ValueError(
            "loss='bce' needs a sigmoid output (data in [0, 1]); "
            f"the output activation is {output_activation!r}"
        )
    return loss


__all__ = ["LOSSES", "LossOutput", "binary_cross_entropy", "resolve_loss", "squared_error"]

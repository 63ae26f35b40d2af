"""Reconstruction losses L(x, x_hat), per sample (mean over features), plus the loss container.

- ``"mse"``: squared error, mean over features: (1/D) sum_i (x_i - x_hat_i)^2.
- ``"bce"``: binary cross-entropy, mean over features:
  -(1/D) sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)], computed from the logits
  (x_hat = sigmoid(logits)) with the log-sum-exp form, which never takes log(0).
- ``"multinomial"``: for documents (word counts or TF-IDF weights, x_i >= 0), the sample
  read as a distribution over its features and scored by the decoder's softmax:
  -sum_i (x_i / sum_j x_j) log softmax(logits)_i, the cross-entropy of the document models
  behind semantic hashing (Salakhutdinov & Hinton's constrained Poisson model, VDSH, NASH). A
  sum over features, not a mean: it reads "nats per word". Binary cross-entropy on sparse
  rows spends the network on the zeros; this loss only asks where the row's weight lies.
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


def multinomial_cross_entropy(
    out: AutoencoderOutput, target: torch.Tensor, reduction: str = "none"
) -> torch.Tensor:
    """Cross-entropy of the row's share of each feature under softmax(logits), per sample
    ``(B,)``, or its batch mean with ``reduction="mean"``; targets >= 0 (a row of zeros
    costs nothing)."""
    weights = target.flatten(1)  # (B, D)
    shares = weights / weights.sum(1, keepdim=True).clamp_min(torch.finfo(weights.dtype).tiny)
    per_sample = -(shares * F.log_softmax(out.logits.flatten(1), dim=1)).sum(1)  # (B,)
    return per_sample.mean() if reduction == "mean" else per_sample


# Name -> per-sample loss. "mse" and "bce" are means over features ("per pixel");
# "multinomial" is a sum over them ("per word").
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "mse": squared_error,
    "bce": binary_cross_entropy,
    "multinomial": multinomial_cross_entropy,
}
# The output activation each loss needs (a loss not named here takes any).
LOSS_OUTPUTS: dict[str, str] = {"bce": "sigmoid", "multinomial": "softmax"}


def resolve_loss(loss: str, output_activation: str) -> str:
    """Resolve ``"auto"``: BCE for a sigmoid output (data in [0, 1]), squared error otherwise."""
    if loss == "auto":
        return "bce" if output_activation == "sigmoid" else "mse"
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose 'auto' or one of {sorted(LOSSES)}")
    needed = LOSS_OUTPUTS.get(loss)
    if needed is not None and output_activation != needed:
        data = {"bce": "data in [0, 1]", "multinomial": "a distribution over the features"}
        raise ValueError(
            f"loss={loss!r} needs a {needed} output ({data[loss]}); "
            f"the output activation is {output_activation!r}"
        )
    return loss


__all__ = [
    "LOSSES",
    "LOSS_OUTPUTS",
    "LossOutput",
    "binary_cross_entropy",
    "multinomial_cross_entropy",
    "resolve_loss",
    "squared_error",
]

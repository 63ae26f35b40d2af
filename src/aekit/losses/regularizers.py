"""Penalties added to the reconstruction loss; each returns one value per sample ``(B,)``.

- L1 activity (sparsity ``"l1"``): Omega(h) = sum_j |h_j| over the code units.
- KL sparsity (sparsity ``"kl"``): with rho_hat_j the mean activation of code unit j over the
  batch, Omega = sum_j KL(rho || rho_hat_j) = sum_j [rho log(rho / rho_hat_j)
  + (1 - rho) log((1 - rho) / (1 - rho_hat_j))]. It is a property of the batch, not of one
  sample, so every sample of the batch carries the same value. Needs units in (0, 1).
- L2 weight penalty (``weight_decay`` lambda): (lambda / 2) sum ||W||_F^2 over the weight
  matrices and kernels, biases excluded, whose gradient is the classic decay lambda W.
- Contractive penalty: ||J_f(x)||_F^2 = sum_{j,i} (dz_j / dx_i)^2, the squared Frobenius norm of
  the encoder's Jacobian at x (Rifai et al. 2011), computed exactly by one batched
  vector-Jacobian product per code unit.

The estimators multiply each by its weight and report it as its own term of ``history_``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# Keeps log(rho_hat) finite when a unit is saturated on the whole batch.
_EPS = 1e-6


def l1_activity(z: torch.Tensor, target: float = 0.0) -> torch.Tensor:
    """sum_j |z_j| per sample ``(B,)``; ``target`` is unused (a common signature with KL)."""
    return z.abs().sum(1)


def kl_sparsity(z: torch.Tensor, target: float = 0.05) -> torch.Tensor:
    """sum_j KL(rho || rho_hat_j) with rho_hat_j the batch mean of unit j, for each sample."""
    rho = target
    rho_hat = z.mean(0).clamp(_EPS, 1 - _EPS)  # (K,)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum().expand(z.shape[0])  # (B,)


# Name -> penalty(z (B, K), target) -> (B,). `sparsity=` of the estimators takes these names.
SPARSITY: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "l1": l1_activity,
    "kl": kl_sparsity,
}


def weight_penalty(module: nn.Module) -> torch.Tensor:
    """(1/2) sum of squared weights of every layer with more than one dimension (no biases)."""
    squares = [p.square().sum() for p in module.parameters() if p.ndim > 1 and p.requires_grad]
    if not squares:
        return next(module.parameters()).new_zeros(())
    return 0.5 * torch.stack(squares).sum()


def jacobian_frobenius(z: torch.Tensor, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """||dz/dx||_F^2 per sample ``(B,)`` for a code ``z`` (B, K) computed from ``x`` (B, D).

    Sample b's code depends only on sample b's input (no batch-coupling layers in the
    encoders), so the gradient of sum_b z_bj with respect to x holds row b of every sample's
    Jacobian for unit j. The K products run as one batched backward pass where autograd can
    vectorise the graph, and one by one otherwise (recurrent cells, for instance).
    """
    B, K = z.shape
    eye = torch.eye(K, dtype=z.dtype, device=z.device)  # (K, K)
    try:
        (jac,) = torch.autograd.grad(
            z,
            x,
            grad_outputs=eye[:, None, :].expand(K, B, K),  # (K, B, K): one unit per product
            is_grads_batched=True,
            create_graph=create_graph,
            retain_graph=True,
        )  # (K, B, D)
        return jac.square().flatten(2).sum((0, 2))
    except RuntimeError:
        total = z.new_zeros(B)
        for j in range(K):
            (row,) = torch.autograd.grad(
                z[:, j].sum(), x, create_graph=create_graph, retain_graph=True
            )  # (B, D)
            total = total + row.square().flatten(1).sum(1)
        return total


__all__ = ["SPARSITY", "jacobian_frobenius", "kl_sparsity", "l1_activity", "weight_penalty"]

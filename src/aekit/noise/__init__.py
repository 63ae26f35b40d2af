"""Corruptions for denoising autoencoders: x -> x_tilde, drawn afresh for every batch.

A denoising autoencoder minimises L(x, g(f(x_tilde))): it sees a corrupted input and is scored
against the clean one, so it must learn the structure of the data rather than copy it.

- ``"gaussian"``: x_tilde = x + level * eps, eps ~ N(0, I); for data in [0, 1] the result is
  clipped back to [0, 1] (``clip``) so that it stays a valid image.
- ``"masking"``: each feature is set to 0 with probability ``level`` (Vincent et al. 2008).
- ``"salt_pepper"``: each feature is replaced with probability ``level`` by the minimum or the
  maximum value (``low``/``high``: 0 and 1 for images), each with probability 1/2.

All draw from torch's global generator, which the estimators seed, so runs are reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from aekit._validation import Real, check_value


def gaussian(
    x: torch.Tensor, level: float, low: float | None = None, high: float | None = None
) -> torch.Tensor:
    """Additive Gaussian noise of standard deviation ``level``, clipped to [low, high] if given."""
    noisy = x + level * torch.randn_like(x)
    if low is not None or high is not None:
        noisy = noisy.clamp(low, high)
    return noisy


def masking(
    x: torch.Tensor, level: float, low: float | None = None, high: float | None = None
) -> torch.Tensor:
    """Zero each feature with probability ``level`` (zero is the mean after z-scoring)."""
    keep = torch.rand_like(x) >= level
    return x * keep


def salt_pepper(
    x: torch.Tensor, level: float, low: float | None = None, high: float | None = None
) -> torch.Tensor:
    """Set each feature with probability ``level`` to ``low`` or ``high`` (1/2 each)."""
    lo = x.min() if low is None else torch.as_tensor(low, dtype=x.dtype, device=x.device)
    hi = x.max() if high is None else torch.as_tensor(high, dtype=x.dtype, device=x.device)
    u = torch.rand_like(x)
    salt = torch.rand_like(x) < 0.5
    replacement = torch.where(salt, hi, lo)
    return torch.where(u < level, replacement, x)


# Name -> corruption(x, level, low, high). `noise=` of the estimators takes these names.
NOISES: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian": gaussian,
    "masking": masking,
    "salt_pepper": salt_pepper,
}

# A noise level that works for each kind when none is given: sigma 0.5 for data in [0, 1]
# (or 0.5 standard deviations after z-scoring), a quarter of the features masked, 10% flipped.
DEFAULT_LEVELS: dict[str, float] = {"gaussian": 0.5, "masking": 0.25, "salt_pepper": 0.1}


def check_noise(noise: str | None, level: float | None) -> float:
    """Validate a noise choice and return the level to use (the default for ``None``)."""
    if noise is None:
        return 0.0
    if noise not in NOISES:
        raise ValueError(f"unknown noise {noise!r}; choose None or one of {sorted(NOISES)}")
    if level is None:
        return DEFAULT_LEVELS[noise]
    check_value("noise_level", level, Real(0))
    if noise != "gaussian" and level > 1:
        raise ValueError(f"noise_level is a probability for noise={noise!r}; got {level!r}")
    return float(level)


def corrupt(
    x: torch.Tensor,
    noise: str,
    level: float,
    low: float | None = None,
    high: float | None = None,
) -> torch.Tensor:
    """Return a fresh corruption of ``x`` (any shape) by the noise ``noise``."""
    return NOISES[noise](x, level, low, high)


__all__ = [
    "DEFAULT_LEVELS",
    "NOISES",
    "check_noise",
    "corrupt",
    "gaussian",
    "masking",
    "salt_pepper",
]

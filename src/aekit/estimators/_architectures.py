"""How an estimator's parameters and training data become a module configuration.

One entry per ``architecture``: how the sample shape is read (:func:`conv_shape` states the
rule for convolutions), which features share a scaling (per channel for convolutional and
recurrent networks) and how the config of :mod:`aekit.models` is filled in. The VAE uses the
same entries with its own module classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from aekit.data import in_unit_interval
from aekit.models import (
    ACTIVATIONS,
    ConvConfig,
    DenseConfig,
    RecurrentConfig,
    halving_widths,
)
from aekit.models.conv import UPSAMPLERS, default_channels
from aekit.models.recurrent import CELLS

# Width of each recurrent layer when `hidden=None`.
RECURRENT_HIDDEN = (64,)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; choose one of {list(choices)}")


def check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_fraction(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def conv_shape(input_shape: tuple[int, ...], spatial_dims: int | None) -> tuple[int, ...]:
    """Read one sample's shape as ``(channels, *spatial)`` for a convolutional network.

    With ``spatial_dims=None`` the rank decides: ``(L,)`` (rows of a table: spectra, signals)
    is a one-channel 1-D signal ``(1, L)``; ``(H, W)`` a one-channel image ``(1, H, W)``;
    ``(C, H, W)`` an image with C channels; ``(C, D, H, W)`` a volume. ``spatial_dims`` says
    how many trailing axes are spatial when the rank alone is ambiguous: ``spatial_dims=1``
    reads ``(C, L)`` as a C-channel signal, ``spatial_dims=3`` reads ``(D, H, W)`` as a
    one-channel volume. Axes in front of the channel axis are not allowed.
    """
    rank = len(input_shape)
    if spatial_dims is None:
        spatial_dims = min(rank, 2) if rank <= 3 else 3
    if spatial_dims not in (1, 2, 3):
        raise ValueError(f"spatial_dims must be None, 1, 2 or 3, got {spatial_dims!r}")
    if rank == spatial_dims:
        return (1, *input_shape)
    if rank == spatial_dims + 1:
        return tuple(input_shape)
    raise ValueError(
        f"samples of shape {input_shape} cannot be read with spatial_dims={spatial_dims}: "
        "a convolutional network takes (L,), (C, L), (H, W), (C, H, W) or (C, D, H, W) samples"
    )


def recurrent_shape(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """Read one sample as a sequence ``(T, F)``: ``(T,)`` is a univariate window."""
    if len(input_shape) == 1:
        return (input_shape[0], 1)
    if len(input_shape) == 2:
        return (input_shape[0], input_shape[1])
    raise ValueError(
        f"a recurrent network takes samples of shape (T,) or (T, F); got {input_shape}"
    )


class Resolved(NamedTuple):
    """The ``"auto"`` choices of an estimator, resolved for its training data."""

    activation: str
    code_activation: str
    output_activation: str


def resolve_activations(est: Any, X: np.ndarray, deep: bool, sigmoid_code: bool) -> Resolved:
    """Resolve ``activation``, ``code_activation`` and ``output_activation`` of ``est``.

    ``deep``: the encoder has hidden layers, so an "auto" code is linear (Hinton &
    Salakhutdinov 2006); a shallow code is the hidden layer and takes ``activation``.
    ``sigmoid_code``: the code must lie in (0, 1) (KL sparsity), so "auto" means sigmoid.
    """
    activation = "linear" if est.activation is None else est.activation
    check_choice("activation", activation, list(ACTIVATIONS))
    linear = activation == "linear"
    code = est.code_activation
    if code == "auto":
        if sigmoid_code:
            code = "sigmoid"
        else:
            code = activation if (not deep or linear) else "linear"
    check_choice("code_activation", code, list(ACTIVATIONS))
    output = est.output_activation
    if output == "auto":
        output = "sigmoid" if in_unit_interval(X) and not linear else "linear"
    check_choice("output_activation", output, list(ACTIVATIONS))
    return Resolved(activation, code, output)


def _hidden(est: Any, default: Callable[[], tuple[int, ...]], what: str) -> tuple[int, ...]:
    if est.hidden is None:
        return default()
    hidden = tuple(est.hidden)
    for width in hidden:
        check_positive_int(f"every {what} in hidden", width)
    return tuple(int(w) for w in hidden)


def _dense_config(est: Any, X: np.ndarray, shape: tuple[int, ...], sigmoid_code: bool) -> Any:
    linear = est.activation in (None, "linear")
    # Stacked linear layers compose to a single one, so a linear network stays shallow.
    hidden = _hidden(
        est, lambda: () if linear else halving_widths(X.shape[1], est.latent_dim), "width"
    )
    acts = resolve_activations(est, X, bool(hidden), sigmoid_code)
    return DenseConfig(
        n_features=int(X.shape[1]),
        latent_dim=int(est.latent_dim),
        hidden=hidden,
        activation=acts.activation,
        code_activation=acts.code_activation,
        output_activation=acts.output_activation,
        dropout=float(est.dropout),
    )


def _conv_config(est: Any, X: np.ndarray, shape: tuple[int, ...], sigmoid_code: bool) -> Any:
    check_choice("upsample", est.upsample, list(UPSAMPLERS))
    hidden = _hidden(est, lambda: default_channels(shape), "channel count")
    if not hidden:
        raise ValueError("a convolutional network needs at least one block: hidden=() is empty")
    acts = resolve_activations(est, X, True, sigmoid_code)
    return ConvConfig(
        input_shape=shape,
        latent_dim=int(est.latent_dim),
        hidden=hidden,
        activation=acts.activation,
        code_activation=acts.code_activation,
        output_activation=acts.output_activation,
        upsample=est.upsample,
        dropout=float(est.dropout),
    )


def _recurrent_config(est: Any, X: np.ndarray, shape: tuple[int, ...], sigmoid_code: bool) -> Any:
    check_choice("cell", est.cell, list(CELLS))
    hidden = _hidden(est, lambda: RECURRENT_HIDDEN, "width")
    if not hidden:
        raise ValueError("a recurrent network needs at least one layer: hidden=() is empty")
    acts = resolve_activations(est, X, True, sigmoid_code)
    return RecurrentConfig(
        input_shape=(int(shape[0]), int(shape[1])),
        latent_dim=int(est.latent_dim),
        hidden=hidden,
        cell=est.cell,
        bidirectional=bool(est.bidirectional),
        code_activation=acts.code_activation,
        output_activation=acts.output_activation,
        dropout=float(est.dropout),
    )


def _no_groups(shape: tuple[int, ...]) -> None:
    return None


def _channel_groups(shape: tuple[int, ...]) -> np.ndarray:
    channels, *spatial = shape
    return np.repeat(np.arange(channels), int(np.prod(spatial)))  # (C * prod(spatial),)


def _feature_groups(shape: tuple[int, ...]) -> np.ndarray:
    steps, features = shape
    return np.tile(np.arange(features), steps)  # (T * F,), time-major like the rows


class Architecture(NamedTuple):
    shape: Callable[[Any, tuple[int, ...]], tuple[int, ...]]  # (est, sample shape) -> net shape
    groups: Callable[[tuple[int, ...]], np.ndarray | None]  # features scaled together
    config: Callable[..., Any]  # (est, scaled X, net shape, sigmoid_code) -> module config


# `architecture=` -> how to build it.
ARCHITECTURES: dict[str, Architecture] = {
    "dense": Architecture(lambda est, shape: (int(np.prod(shape)),), _no_groups, _dense_config),
    "conv": Architecture(
        lambda est, shape: conv_shape(shape, est.spatial_dims), _channel_groups, _conv_config
    ),
    "recurrent": Architecture(
        lambda est, shape: recurrent_shape(shape), _feature_groups, _recurrent_config
    ),
}

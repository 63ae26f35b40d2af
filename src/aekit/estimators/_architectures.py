"""The architecture registry: one record per ``architecture=`` value.

A record says how a sample is read for the network (the input rule: :func:`conv_shape` for
convolutions, :func:`recurrent_shape` for sequences), which features share one scaling (per
channel for convolutional and recurrent networks), how the module configuration of
:mod:`aekit.models` is filled in from explicit settings (:class:`Network`), which module
kinds it builds (its autoencoder and, if any, its VAE: keys of :data:`aekit.models.MODULES`),
whether it exports to ONNX and whether an :class:`~aekit.AnomalyDetector` can use it for its
members. Every other list of architectures (estimator choices, CLI help, ONNX export, the
detector's choices) is derived from :data:`ARCHITECTURES`; adding an architecture is one entry
here plus its module (tests/test_architectures.py shows a toy one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from aekit.models import ConvConfig, DenseConfig, RecurrentConfig, halving_widths
from aekit.models.conv import default_channels

# Width of each recurrent layer when `hidden=None`.
RECURRENT_HIDDEN = (64,)


def conv_shape(input_shape: tuple[int, ...], spatial_dims: int | None) -> tuple[int, ...]:
    """Read one sample's shape as ``(channels, *spatial)`` for a convolutional network.

    With ``spatial_dims=None`` the rank decides: ``(L,)`` (rows of a table: spectra, signals)
    is a one-channel 1-D signal ``(1, L)``; ``(H, W)`` a one-channel image ``(1, H, W)``;
    ``(C, H, W)`` an image with C channels; ``(C, D, H, W)`` a volume. ``spatial_dims`` says
    how many trailing axes are spatial when the rank alone is ambiguous: ``spatial_dims=1``
    reads ``(C, L)`` as a C-channel signal, ``spatial_dims=3`` reads ``(D, H, W)`` as a
    one-channel volume. Axes in front of the channel axis are not allowed.

    Examples
    --------
    >>> conv_shape((28, 28), None), conv_shape((3, 500), 1)
    ((1, 28, 28), (3, 500))
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
    """Read one sample as a sequence ``(T, F)``: ``(T,)`` is a univariate window.

    Examples
    --------
    >>> recurrent_shape((50,)), recurrent_shape((50, 3))
    ((50, 1), (50, 3))
    """
    if len(input_shape) == 1:
        return (input_shape[0], 1)
    if len(input_shape) == 2:
        return (input_shape[0], input_shape[1])
    raise ValueError(
        f"a recurrent network takes samples of shape (T,) or (T, F); got {input_shape}"
    )


class Network(NamedTuple):
    """The network settings of an estimator, the explicit input of the config builders
    (parameters of the estimators, checked there; ``None`` and ``"auto"`` still to resolve)."""

    latent_dim: int  # size of the code
    hidden: tuple[int, ...] | None = None  # widths or channels; None: the architecture's rule
    activation: str | None = "relu"  # hidden units; None or "linear" for a linear network
    code_activation: str = "auto"  # see Autoencoder
    output_activation: str = "auto"  # see Autoencoder
    dropout: float = 0.0  # after every hidden layer
    cell: str = "lstm"  # recurrent cell
    bidirectional: bool = False  # recurrent layers reading both ways
    spatial_dims: int | None = None  # trailing spatial axes of a conv sample
    upsample: str = "transpose"  # conv decoder blocks

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Network:
        """The settings found among an estimator's ``params`` (others keep their default)."""
        values = {k: params[k] for k in cls._fields if k in params}
        if values.get("hidden") is not None:
            values["hidden"] = tuple(int(w) for w in values["hidden"])
        return cls(**values)


class Activations(NamedTuple):
    """The ``"auto"`` activations of a network, resolved for its training data."""

    activation: str
    code_activation: str
    output_activation: str


def resolve_activations(
    network: Network, deep: bool, unit_interval: bool, sigmoid_code: bool
) -> Activations:
    """Resolve ``activation``, ``code_activation`` and ``output_activation``.

    ``deep``: the encoder has hidden layers, so an "auto" code is linear (Hinton &
    Salakhutdinov 2006); a shallow code is the hidden layer and takes ``activation``.
    ``unit_interval``: the scaled training data lies in [0, 1], so an "auto" output of a
    nonlinear network is a sigmoid. ``sigmoid_code``: the code must lie in (0, 1) (KL
    sparsity), so an "auto" code is a sigmoid.
    """
    activation = "linear" if network.activation is None else network.activation
    linear = activation == "linear"
    code = network.code_activation
    if code == "auto":
        if sigmoid_code:
            code = "sigmoid"
        else:
            code = activation if (not deep or linear) else "linear"
    output = network.output_activation
    if output == "auto":
        output = "sigmoid" if unit_interval and not linear else "linear"
    return Activations(activation, code, output)


def _dense_config(
    network: Network, shape: tuple[int, ...], unit_interval: bool, sigmoid_code: bool
) -> DenseConfig:
    (n_features,) = shape
    linear = network.activation in (None, "linear")
    hidden = network.hidden
    if hidden is None:
        # Stacked linear layers compose to a single one, so a linear network stays shallow.
        hidden = () if linear else halving_widths(n_features, network.latent_dim)
    acts = resolve_activations(network, bool(hidden), unit_interval, sigmoid_code)
    return DenseConfig(
        n_features=n_features,
        latent_dim=int(network.latent_dim),
        hidden=hidden,
        activation=acts.activation,
        code_activation=acts.code_activation,
        output_activation=acts.output_activation,
        dropout=float(network.dropout),
    )


def _layers(
    network: Network, default: Callable[[], tuple[int, ...]], what: str, unit: str
) -> tuple[int, ...]:
    """``network.hidden``, or ``default()`` for None; refused when empty."""
    hidden = default() if network.hidden is None else network.hidden
    if not hidden:
        raise ValueError(f"{what} needs at least one {unit}: hidden=() is empty")
    return hidden


def _conv_config(
    network: Network, shape: tuple[int, ...], unit_interval: bool, sigmoid_code: bool
) -> ConvConfig:
    hidden = _layers(network, lambda: default_channels(shape), "a convolutional network", "block")
    acts = resolve_activations(network, True, unit_interval, sigmoid_code)
    return ConvConfig(
        input_shape=shape,
        latent_dim=int(network.latent_dim),
        hidden=hidden,
        activation=acts.activation,
        code_activation=acts.code_activation,
        output_activation=acts.output_activation,
        upsample=network.upsample,
        dropout=float(network.dropout),
    )


def _recurrent_config(
    network: Network, shape: tuple[int, ...], unit_interval: bool, sigmoid_code: bool
) -> RecurrentConfig:
    hidden = _layers(network, lambda: RECURRENT_HIDDEN, "a recurrent network", "layer")
    acts = resolve_activations(network, True, unit_interval, sigmoid_code)
    return RecurrentConfig(
        input_shape=(int(shape[0]), int(shape[1])),
        latent_dim=int(network.latent_dim),
        hidden=hidden,
        cell=network.cell,
        bidirectional=bool(network.bidirectional),
        code_activation=acts.code_activation,
        output_activation=acts.output_activation,
        dropout=float(network.dropout),
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
    """One ``architecture=`` value: its input rule, scaling groups, config and modules."""

    # (sample shape, spatial_dims) -> the shape the network reads a sample as
    read: Callable[[tuple[int, ...], int | None], tuple[int, ...]]
    # network shape -> group of each feature for the scaling (None: one per feature)
    groups: Callable[[tuple[int, ...]], np.ndarray | None]
    # (network, network shape, data in [0, 1], code must be a sigmoid) -> module config
    config: Callable[[Network, tuple[int, ...], bool, bool], Any]
    module: str  # key of aekit.models.MODULES of its autoencoder
    vae_module: str | None = None  # key of its VAE module, None when a VAE cannot take it
    onnx: bool = False  # aekit.io.export_onnx exports its modules
    detector: bool = False  # an AnomalyDetector can use it for its ensemble members


ARCHITECTURES: dict[str, Architecture] = {
    "dense": Architecture(
        lambda shape, spatial_dims: (int(np.prod(shape)),),
        _no_groups,
        _dense_config,
        module="dense",
        vae_module="vae-dense",
        onnx=True,
        detector=True,
    ),
    "conv": Architecture(
        conv_shape,
        _channel_groups,
        _conv_config,
        module="conv",
        vae_module="vae-conv",
        onnx=True,
        detector=True,
    ),
    "recurrent": Architecture(
        lambda shape, spatial_dims: recurrent_shape(shape),
        _feature_groups,
        _recurrent_config,
        module="recurrent",
        onnx=True,
    ),
}


def vae_architectures() -> list[str]:
    """The architectures a VAE can take."""
    return [name for name, a in ARCHITECTURES.items() if a.vae_module is not None]


def detector_architectures() -> list[str]:
    """The architectures of an AnomalyDetector's members (besides ``"auto"``)."""
    return [name for name, a in ARCHITECTURES.items() if a.detector]


def exportable_kinds() -> list[str]:
    """The module kinds that :func:`aekit.io.export_onnx` exports."""
    kinds = []
    for a in ARCHITECTURES.values():
        if a.onnx:
            kinds += [a.module] + ([a.vae_module] if a.vae_module else [])
    return kinds

"""Convolutional autoencoder for 1-D signals (spectra, series) and 2-D images (3-D volumes too).

The encoder f is a stack of strided convolutions, each halving every spatial size (stride 2,
padding k // 2, so n -> ceil(n / 2) for an odd kernel k), followed by a dense bottleneck: the last
feature map is flattened and a linear layer y = x W^T + b maps it to the code z. The decoder g
mirrors it: a linear layer back to the smallest feature map, then upsampling blocks (transposed
convolutions, "deconvolutions", or nearest-neighbour upsampling followed by a convolution) that
double the spatial sizes back to exactly those of the encoder, and a last convolution to the input
channels that gives the logits; the output activation turns them into x_hat = g(f(x)).

Estimators keep every sample as one flat row, so the modules take and return flat tensors
(B, C * prod(spatial)) and reshape inside; the sample shape (C, L) or (C, H, W) lives in the
config.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from aekit.models.dense import EncoderDecoder
from aekit.models.layers import (
    _HE_NEGATIVE_SLOPE,
    ACTIVATIONS,
    CODE_ACTIVATIONS,
    init_linear,
    make_activation,
)

Size = tuple[int, ...]  # spatial sizes of a feature map: (L,), (H, W) or (D, H, W)


@dataclass(frozen=True)
class ConvConfig:
    input_shape: tuple[int, ...]  # one sample: (C, L) signal, (C, H, W) image, (C, D, H, W) volume
    latent_dim: int  # width of the code z
    hidden: tuple[int, ...] = (32, 64, 128)  # channels of each stride-2 block; the decoder mirrors
    activation: str = "relu"  # after every convolution and the decoder's first linear layer
    code_activation: str = "linear"  # applied to the code z
    output_activation: str = "sigmoid"  # maps the decoder's logits to x_hat
    upsample: str = "transpose"  # decoder blocks: a key of UPSAMPLERS
    kernel_size: int = 3  # odd, so that padding k // 2 keeps every convolution centred
    dropout: float = 0.0  # dropout probability after every hidden layer (not the code or output)
    batch_norm: bool = False  # batch normalisation between each convolution and its activation

    def __post_init__(self) -> None:
        # Checked here rather than deep inside torch, whose messages name no parameter.
        shape = self.input_shape
        if not (
            isinstance(shape, tuple)
            and len(shape) - 1 in CONV_OPS
            and all(isinstance(n, int) and n >= 1 for n in shape)
        ):
            raise ValueError(
                "input_shape must be a tuple (C, L), (C, H, W) or (C, D, H, W) of positive "
                f"integers, got {shape!r}"
            )
        if not self.hidden or not all(isinstance(c, int) and c >= 1 for c in self.hidden):
            raise ValueError(
                f"hidden must hold at least one positive channel count, got {self.hidden!r}"
            )
        if not (
            isinstance(self.kernel_size, int) and self.kernel_size >= 1 and self.kernel_size % 2
        ):
            raise ValueError(
                f"kernel_size must be an odd positive integer, got {self.kernel_size!r}"
            )
        if self.upsample not in UPSAMPLERS:
            raise ValueError(
                f"unknown upsample {self.upsample!r}; choose one of {sorted(UPSAMPLERS)}"
            )
        for name in ("activation", "code_activation", "output_activation"):
            known = CODE_ACTIVATIONS if name == "code_activation" else ACTIVATIONS
            if getattr(self, name) not in known:
                raise ValueError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {sorted(known)}"
                )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class ConvOps(NamedTuple):
    conv: type[nn.Module]
    conv_transpose: type[nn.Module]
    batch_norm: type[nn.Module]


# Number of spatial dims -> the layer classes, so one code path builds 1-D, 2-D and 3-D networks.
CONV_OPS: dict[int, ConvOps] = {
    1: ConvOps(nn.Conv1d, nn.ConvTranspose1d, nn.BatchNorm1d),
    2: ConvOps(nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d),
    3: ConvOps(nn.Conv3d, nn.ConvTranspose3d, nn.BatchNorm3d),
}

_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSE_TYPES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def default_channels(
    input_shape: tuple[int, ...], first: int = 32, min_size: int = 4, max_blocks: int = 4
) -> tuple[int, ...]:
    """Default channels of the encoder's stride-2 blocks for samples of ``input_shape``.

    One block per halving of the spatial sizes (n -> ceil(n / 2)) while the smallest of them
    stays at least ``min_size``, with at least one block and at most ``max_blocks``; the first
    block has ``first`` channels and each next one doubles them, so every block holds about as
    many numbers as the one before it, at a quarter of the positions (2-D).

    1x28x28 images give (32, 64, 128) (28 -> 14 -> 7 -> 4); 1x8x8 give (32,) (8 -> 4); spectra
    of length 1000 give (32, 64, 128, 256) (1000 -> 500 -> 250 -> 125 -> 63); 1x3x3 still get
    one block (32,) (3 -> 2).

    Examples
    --------
    >>> from aekit.models.conv import default_channels
    >>> default_channels((1, 28, 28)), default_channels((1, 8, 8)), default_channels((1, 1000))
    ((32, 64, 128), (32,), (32, 64, 128, 256))
    """
    smallest = min(input_shape[1:])
    n_blocks = 1
    while n_blocks < max_blocks and math.ceil(smallest / 2 ** (n_blocks + 1)) >= min_size:
        n_blocks += 1
    return tuple(first * 2**i for i in range(n_blocks))


def feature_sizes(spatial: Size, n_blocks: int, kernel_size: int = 3) -> list[Size]:
    """Spatial sizes of the encoder's feature maps: the input's, then one per stride-2 block.

    A convolution with stride 2 and padding k // 2 maps n to floor((n + 2 (k // 2) - k) / 2) + 1,
    which is ceil(n / 2) for an odd k: 28 -> 14 -> 7 -> 4, 31 -> 16 -> 8 -> 4, 1 -> 1.
    """
    pad = kernel_size // 2
    sizes = [tuple(spatial)]
    for _ in range(n_blocks):
        sizes.append(tuple((n + 2 * pad - kernel_size) // 2 + 1 for n in sizes[-1]))
    return sizes


def init_conv(layer: nn.Module, activation: str) -> None:
    """Initialise a (transposed) convolution for the activation that follows it, like
    :func:`~aekit.models.layers.init_linear`: He for ReLU-like units, Xavier otherwise, zero biases.

    The fans count the connections of the forward pass: a convolution's output sees
    C_in * prod(k) inputs; a transposed convolution with stride s spreads each input over
    prod(k) outputs, so each output sees C_in * prod(k) / prod(s) of them on average (torch's
    own fan computation would take its weight's second axis, C_out, as the fan-in).
    """
    taps = math.prod(layer.kernel_size)
    stride = math.prod(layer.stride)
    if isinstance(layer, _TRANSPOSE_TYPES):
        fan_in = layer.in_channels * taps / stride
        fan_out = layer.out_channels * taps
    elif isinstance(layer, _CONV_TYPES):
        fan_in = layer.in_channels * taps
        fan_out = layer.out_channels * taps / stride
    else:
        raise TypeError(f"expected a convolution, got {type(layer).__name__}")
    if activation in _HE_NEGATIVE_SLOPE:
        # U(-b, b) with b = sqrt(3) * gain / sqrt(fan_in), gain^2 = 2 / (1 + slope^2): He uniform.
        bound = math.sqrt(6.0 / ((1 + _HE_NEGATIVE_SLOPE[activation] ** 2) * fan_in))
    else:
        bound = math.sqrt(6.0 / (fan_in + fan_out))  # Xavier/Glorot uniform
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound)
        if layer.bias is not None:
            layer.bias.zero_()


def _transpose_block(
    ops: ConvOps, c_in: int, c_out: int, k: int, size_in: Size, size_out: Size, bias: bool
) -> list[nn.Module]:
    # A transposed convolution maps n to (n - 1) * 2 - 2 (k // 2) + k + output_padding; the
    # padding (0 or 1 per dim) picks which of the two sizes that halve to n the encoder had.
    padding = tuple(
        o - ((i - 1) * 2 - 2 * (k // 2) + k) for i, o in zip(size_in, size_out, strict=True)
    )
    return [
        ops.conv_transpose(
            c_in, c_out, k, stride=2, padding=k // 2, output_padding=padding, bias=bias
        )
    ]


def _nearest_block(
    ops: ConvOps, c_in: int, c_out: int, k: int, size_in: Size, size_out: Size, bias: bool
) -> list[nn.Module]:
    # Upsampling to the exact target size (not by a factor 2) restores odd sizes; the following
    # stride-1 convolution avoids the checkerboard artefacts of transposed convolutions.
    return [
        nn.Upsample(size=size_out, mode="nearest"),
        ops.conv(c_in, c_out, k, padding=k // 2, bias=bias),
    ]


# Upsampling mode -> block factory(ops, c_in, c_out, kernel, size_in, size_out, bias): layers
# that map (B, c_in, *size_in) to (B, c_out, *size_out), ending in the convolution to initialise.
UPSAMPLERS: dict[str, Callable[..., list[nn.Module]]] = {
    "transpose": _transpose_block,
    "nearest": _nearest_block,
}


def _finish_block(
    layers: list[nn.Module], ops: ConvOps, channels: int, config: ConvConfig
) -> list[nn.Module]:
    """Initialise a block's convolution and append normalisation, activation and dropout."""
    init_conv(layers[-1], config.activation)
    if config.batch_norm:
        layers.append(ops.batch_norm(channels))
    if config.activation != "linear":
        layers.append(make_activation(config.activation))
    if config.dropout > 0:
        layers.append(nn.Dropout(config.dropout))
    return layers


def _linear(n_in: int, n_out: int, activation: str) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    init_linear(layer, activation)
    return layer


class ConvEncoder(nn.Sequential):
    """x (B, C * prod(spatial)) -> z (B, K): stride-2 convolutions, then a dense bottleneck.

    ``n_out`` overrides the output width (a VAE's encoder emits 2K numbers: mean and log-variance).
    """

    def __init__(self, config: ConvConfig, n_out: int | None = None) -> None:
        channels, *spatial = config.input_shape
        ops = CONV_OPS[len(spatial)]
        k = config.kernel_size
        sizes = feature_sizes(tuple(spatial), len(config.hidden), k)
        # Batch norm has its own shift, which makes a convolution bias redundant.
        bias = not config.batch_norm
        layers: list[nn.Module] = [nn.Unflatten(1, config.input_shape)]  # (B, C, *spatial)
        for c_in, c_out in zip((channels, *config.hidden), config.hidden, strict=False):
            conv = ops.conv(c_in, c_out, k, stride=2, padding=k // 2, bias=bias)
            layers += _finish_block([conv], ops, c_out, config)  # (B, c_out, *sizes[i + 1])
        layers.append(nn.Flatten(1))  # (B, hidden[-1] * prod(sizes[-1]))
        n_flat = config.hidden[-1] * math.prod(sizes[-1])
        layers.append(_linear(n_flat, n_out or config.latent_dim, config.code_activation))  # (B, K)
        if config.code_activation != "linear":
            layers.append(make_activation(config.code_activation))
        super().__init__(*layers)


class ConvDecoder(nn.Sequential):
    """z (B, K) -> logits (B, C * prod(spatial)): a dense layer, then upsampling blocks that
    restore the encoder's feature-map sizes exactly, then a convolution to the input channels."""

    def __init__(self, config: ConvConfig) -> None:
        channels, *spatial = config.input_shape
        ops = CONV_OPS[len(spatial)]
        k = config.kernel_size
        sizes = feature_sizes(tuple(spatial), len(config.hidden), k)
        bias = not config.batch_norm
        smallest = (config.hidden[-1], *sizes[-1])
        layers: list[nn.Module] = [
            _linear(config.latent_dim, math.prod(smallest), config.activation),
            make_activation(config.activation),
        ]  # (B, hidden[-1] * prod(sizes[-1]))
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout))
        layers.append(nn.Unflatten(1, smallest))  # (B, hidden[-1], *sizes[-1])
        # Block i mirrors encoder block i: hidden[i] channels at sizes[i + 1] become hidden[i - 1]
        # (hidden[0] for the first block) at sizes[i].
        make_block = UPSAMPLERS[config.upsample]
        for i in reversed(range(len(config.hidden))):
            c_in, c_out = config.hidden[i], config.hidden[max(i - 1, 0)]
            block = make_block(ops, c_in, c_out, k, sizes[i + 1], sizes[i], bias)
            layers += _finish_block(block, ops, c_out, config)  # (B, c_out, *sizes[i])
        # The last layer is initialised for the output activation it feeds, which the
        # autoencoder applies (the losses want the logits).
        out = ops.conv(config.hidden[0], channels, k, padding=k // 2)
        init_conv(out, config.output_activation)
        layers.append(out)  # (B, C, *spatial)
        layers.append(nn.Flatten(1))  # (B, D)
        super().__init__(*layers)


class ConvAutoencoder(EncoderDecoder):
    """Convolutional autoencoder built from a :class:`ConvConfig`; flat rows in and out.

    Examples
    --------
    >>> import torch
    >>> from aekit.models.conv import ConvAutoencoder, ConvConfig
    >>> ae = ConvAutoencoder(ConvConfig(input_shape=(1, 28, 28), latent_dim=16))
    >>> out = ae(torch.rand(5, 784))
    >>> tuple(out.x_hat.shape), tuple(out.z.shape)
    ((5, 784), (5, 16))
    >>> spectra = ConvAutoencoder(ConvConfig((2, 37), latent_dim=4, hidden=(8, 16)))
    >>> tuple(spectra.decode(spectra.encode(torch.rand(3, 74))).shape)
    (3, 74)
    """

    encoder_cls = ConvEncoder
    decoder_cls = ConvDecoder

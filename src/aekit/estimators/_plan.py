"""The plan of a fit: everything decided from the parameters and the training data before a
network is built, resolved once by a pure function of explicit arguments.

:func:`resolve_plan` reads the sample shape by the architecture's input rule, fits the scaling
over the architecture's groups, decides once whether the scaled data lies in [0, 1] (which the
output activation, the loss, a VAE's likelihood and the clipping of noise all follow), and fills
in the module configuration and the loss. The estimators build their module and objective from
the plan and nothing else.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np

from aekit.data import FeatureStats, Scaling, fit_scaling, scaled_in_unit_interval
from aekit.data.scaling import scaled_bounds
from aekit.estimators._architectures import ARCHITECTURES, Network
from aekit.losses import resolve_loss
from aekit.models.vae import LIKELIHOOD_OUTPUTS


class Plan(NamedTuple):
    """What a fit of the autoencoder family builds and trains (frozen)."""

    architecture: str  # key of ARCHITECTURES
    net_shape: tuple[int, ...]  # one sample as the network reads it
    scaling: Scaling | None  # fitted on the training data (None: left as it is)
    unit_interval: bool  # the scaled training data lies in [0, 1]
    module_kind: str  # key of aekit.models.MODULES
    module_config: Any  # its config, "auto" choices resolved
    loss: str  # per-feature reconstruction loss: "bce" or "mse"
    likelihood: str | None  # a VAE's p(x|z): "bernoulli" or "gaussian"; None otherwise


def resolve_plan(
    stats: FeatureStats,
    *,
    input_shape: tuple[int, ...],
    dtype: np.dtype | None,
    architecture: str,
    network: Network,
    scaling: str | None,
    loss: str = "auto",
    sigmoid_code: bool = False,
    likelihood: str | None = None,
) -> Plan:
    """The plan for training rows of samples of ``input_shape`` that ``stats`` describes.

    The scaling is fitted, not applied: the caller scales the rows in place (in memory) or
    batch by batch (streamed), with ``plan.scaling``.

    Parameters
    ----------
    stats : FeatureStats
        Per-feature statistics of the training rows as validated (before scaling), gathered
        in one pass (:class:`aekit.data.FeatureStats`).
    input_shape : tuple of int
        The shape of one sample.
    dtype : numpy dtype or None
        The dtype the data came in (uint8 images are scaled by their range).
    architecture, network, scaling, loss
        The estimator's settings (see :class:`~aekit.Autoencoder`).
    sigmoid_code : bool
        The code must lie in (0, 1) (KL sparsity): "auto" makes it a sigmoid, anything else is
        refused.
    likelihood : {"auto", "bernoulli", "gaussian"} or None
        A VAE's likelihood (its module is the architecture's VAE); ``None`` for an autoencoder.
    """
    record = ARCHITECTURES[architecture]
    net_shape = tuple(int(d) for d in record.read(tuple(input_shape), network.spatial_dims))
    if loss == "multinomial" and scaling == "auto":
        scaling = None  # the loss reads each row's own shares: a feature's scale is its weight
    fitted = fit_scaling(stats, scaling, record.groups(net_shape), dtype)
    unit = scaled_in_unit_interval(fitted, stats)
    config = record.config(network, net_shape, unit, sigmoid_code)
    if sigmoid_code and config.code_activation != "sigmoid":
        raise ValueError(
            "sparsity='kl' compares mean code activations with a target in (0, 1), so the "
            f"code units must lie in (0, 1); code_activation={config.code_activation!r} "
            "does not. Use code_activation='sigmoid' (or 'auto'), or sparsity='l1'"
        )
    if loss == "multinomial":
        low = float(scaled_bounds(fitted, stats)[0].min()) if stats.n else 0.0
        if low < 0:
            raise ValueError(
                "loss='multinomial' reads each row as weights of its features (word counts, "
                f"TF-IDF), which cannot be negative; the (scaled) training data reaches {low:g}"
                ": use scaling=None on non-negative data"
            )
        if network.output_activation == "auto":
            config = dataclasses.replace(config, output_activation="softmax")
    kind = record.module
    if likelihood is not None:
        if record.vae_module is None:
            raise ValueError(f"a VAE cannot take architecture={architecture!r}")
        if likelihood == "auto":
            likelihood = "bernoulli" if unit else "gaussian"
        if likelihood == "bernoulli" and not unit:
            raise ValueError(
                "likelihood='bernoulli' models data in [0, 1], but the (scaled) training data "
                "leaves it; use likelihood='gaussian' or scaling='minmax'"
            )
        config = dataclasses.replace(config, output_activation=LIKELIHOOD_OUTPUTS[likelihood])
        kind = record.vae_module
    return Plan(
        architecture=architecture,
        net_shape=net_shape,
        scaling=fitted,
        unit_interval=unit,
        module_kind=kind,
        module_config=config,
        loss=resolve_loss(loss, config.output_activation),
        likelihood=likelihood,
    )

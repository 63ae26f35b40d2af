"""The variational autoencoder estimator: a generative model with the Autoencoder's API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils import check_random_state

from aekit._validation import Constraint, Integer, Options, Real, check_value
from aekit.data import check_dense
from aekit.estimators._architectures import Network, vae_architectures
from aekit.estimators._family import FAMILY_CONSTRAINTS, BaseAutoencoder, Objective
from aekit.estimators._plan import Plan
from aekit.losses import LossOutput
from aekit.losses.regularizers import weight_penalty
from aekit.models import AutoencoderOutput
from aekit.models.layers import ACTIVATIONS
from aekit.models.vae import LIKELIHOODS, elbo_terms, log_likelihood
from aekit.training import seeded

# How `binarize` turns [0, 1] data into binary data: "dynamic" draws x ~ Bernoulli(pixel) afresh
# for every batch of every epoch (the binarized-MNIST protocol of Salakhutdinov & Murray 2008,
# as used by Burda et al. 2016), so the model never sees the same binary image twice.
BINARIZE = (None, "dynamic")


class VAE(BaseAutoencoder):
    """Variational autoencoder (Kingma & Welling 2014) with a Gaussian posterior q(z|x).

    The encoder maps x to the mean mu(x) and log-variance log sigma^2(x) of q(z|x) =
    N(mu, diag sigma^2); a code is drawn as z = mu + sigma * eps, eps ~ N(0, I) (the
    reparameterisation trick), and the decoder maps z to the parameters of p(x|z). Training
    minimises the negative beta-ELBO per sample, in nats,

        -E_q[log p(x|z)] + beta KL(q(z|x) || N(0, I)),

    with one z per x for the first term and the closed form
    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2) for the second (see
    :mod:`aekit.models.vae`). ``beta=1`` is the VAE, ``beta > 1`` the beta-VAE of Higgins et al.
    (2017), which trades reconstruction for a more factorised code.

    ``transform`` returns the posterior mean mu(x), and ``reconstruct`` decodes it (no
    sampling, so both are deterministic); ``reconstruction_error`` is the mean over features of
    the binary cross-entropy (Bernoulli) or squared error (Gaussian) of that reconstruction,
    as for :class:`Autoencoder`, while ``history_`` and :meth:`elbo` are in nats per sample.
    ``sample`` draws new data from the prior. As for :class:`Autoencoder`, rows whose values
    overflow float32 on the way (once scaled, or in the network) raise a ValueError that names
    them.

    Parameters
    ----------
    architecture : {"dense", "conv"}, default="dense"
        Encoder and decoder family, read as by :class:`Autoencoder`.
    latent_dim : int, default=32
        Dimension K of z.
    hidden : sequence of int or None, default=None
        Encoder widths (dense) or channels (conv), mirrored by the decoder; ``None`` takes the
        :class:`Autoencoder` default.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}, default="relu"
        Hidden units. The layer emitting (mu, log sigma^2) is linear, and the output is the
        mean of p(x|z) under ``likelihood``.
    likelihood : {"auto", "bernoulli", "gaussian"}, default="auto"
        p(x|z): ``"bernoulli"`` for data in [0, 1] (the decoder emits the probabilities
        through a sigmoid), ``"gaussian"`` with the decoder's output as the mean and a learned
        standard deviation per feature (floored at 1e-3 of the scaled data's units). ``"auto"``
        takes Bernoulli when the (scaled) training data lies in [0, 1], Gaussian otherwise.
    beta : float, default=1.0
        Weight of the KL term.
    binarize : {None, "dynamic"}, default=None
        ``"dynamic"`` trains on a fresh Bernoulli sample of the [0, 1] training data for every
        batch of every epoch (and on one fixed sample of the validation data), the standard
        protocol for binarized MNIST; needs the Bernoulli likelihood.
    weight_decay, dropout, spatial_dims, upsample, scaling, max_memory : see :class:`Autoencoder`
    epochs, lr, optimizer : see :class:`Autoencoder`
    batch_size : int or None, default=None
        Samples per gradient step; ``None`` sizes it to the training set, as for
        :class:`Autoencoder`: about 20 steps an epoch, 16 to 256 samples a step.
    validation_fraction, early_stopping, patience, lr_schedule, clip_grad_norm : see
        :class:`Autoencoder`
        The monitored loss is the validation negative ELBO, a one-sample estimate.
    precision, compile : see :class:`Autoencoder`
    device, random_state, verbose : see :class:`Autoencoder`

    Attributes
    ----------
    module_ : aekit.models.DenseVAE or aekit.models.ConvVAE
        The trained network.
    likelihood_ : str
        The likelihood used.
    history_ : list of dict
        One dict per epoch: ``loss`` (the negative beta-ELBO, nats per sample),
        ``reconstruction`` (-log p(x|z)), ``kl`` (beta times the KL, so the terms add up to
        ``loss``), ``weight_decay`` when used, the same with a ``val_`` prefix, and ``time``.
    best_epoch_, batch_size_, scaling_, n_features_in_, input_shape_, device_
        See :class:`Autoencoder`.

    Examples
    --------
    >>> from aekit import VAE
    >>> from aekit.datasets import load_digits
    >>> X, y = load_digits()
    >>> vae = VAE(latent_dim=2, epochs=5, random_state=0).fit(X)
    >>> vae.likelihood_
    'bernoulli'
    >>> vae.transform(X).shape, vae.sample(3, random_state=0).shape
    ((1797, 2), (3, 8, 8))
    >>> vae.interpolate(X[0], X[1], steps=5).shape
    (5, 8, 8)
    >>> bool((vae.log_likelihood(X[:10], n_samples=100) < 0).all())
    True
    """

    def __init__(
        self,
        *,
        architecture: str = "dense",
        latent_dim: int = 32,
        hidden: Sequence[int] | None = None,
        activation: str = "relu",
        likelihood: str = "auto",
        beta: float = 1.0,
        binarize: str | None = None,
        weight_decay: float = 0.0,
        dropout: float = 0.0,
        spatial_dims: int | None = None,
        upsample: str = "transpose",
        scaling: str | None = "auto",
        max_memory: int | str = "auto",
        epochs: int = 100,
        batch_size: int | None = None,
        lr: float = 1e-3,
        optimizer: str = "adam",
        validation_fraction: float = 0.1,
        early_stopping: bool = True,
        patience: int = 10,
        lr_schedule: str | None = None,
        clip_grad_norm: float | None = None,
        precision: str = "fp32",
        compile: bool = False,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = True,
    ) -> None:
        self.architecture = architecture
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.activation = activation
        self.likelihood = likelihood
        self.beta = beta
        self.binarize = binarize
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.spatial_dims = spatial_dims
        self.upsample = upsample
        self.scaling = scaling
        self.max_memory = max_memory
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.clip_grad_norm = clip_grad_norm
        self.precision = precision
        self.compile = compile
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _json_state = (*BaseAutoencoder._json_state, "likelihood_")
    capabilities = frozenset({"encode", "reconstruct", "generate", "likelihood"})
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **FAMILY_CONSTRAINTS,
        "architecture": Options(vae_architectures),
        "activation": Options(
            [a for a in ACTIVATIONS if a != "linear"],
            hint="a VAE needs a nonlinear activation for its hidden layers",
        ),
        "likelihood": Options(["auto", *LIKELIHOODS]),
        "beta": Real(0),
        "binarize": Options(list(BINARIZE)),
    }

    # ------------------------------------------------------------------ fitting
    def _network(self) -> Network:
        # The code layer emits the unbounded (mu, log sigma^2), and the output is the mean of
        # p(x|z), set from the likelihood by the plan.
        return Network.of(self.get_params(deep=False))._replace(code_activation="linear")

    def _plan_settings(self) -> dict[str, Any]:
        return {"likelihood": self.likelihood}

    def _objective(self, plan: Plan) -> Objective:
        if self.binarize is not None and plan.likelihood != "bernoulli":
            raise ValueError(
                f"binarize={self.binarize!r} draws binary data for a Bernoulli likelihood; "
                f"the likelihood is {plan.likelihood!r}"
            )
        self.likelihood_ = plan.likelihood
        beta, decay = float(self.beta), float(self.weight_decay)
        likelihood, binarize = plan.likelihood, self.binarize is not None

        def objective(module: torch.nn.Module, x: torch.Tensor) -> LossOutput:
            if binarize and module.training:  # validation data was binarized once, in _split
                x = torch.bernoulli(x)  # (B, D)
            out = elbo_terms(module, x, likelihood, beta)  # type: ignore[arg-type]
            terms = {"reconstruction": out.reconstruction.mean(), "kl": beta * out.kl.mean()}
            if decay > 0:
                terms["weight_decay"] = decay * weight_penalty(module)
            total = torch.stack(list(terms.values())).sum()
            return LossOutput(total, {k: v.detach() for k, v in terms.items()})

        return objective

    def _fixed_validation(self, rows: Any, seed: int) -> np.ndarray | None:
        if self.binarize is None:
            return None
        X_val = rows()
        rng = np.random.RandomState(seed)
        return (rng.random_sample(X_val.shape) < X_val).astype(np.float32)

    # ---------------------------------------------------------------- inference
    def _output(self, x: torch.Tensor) -> AutoencoderOutput:
        """Decode the posterior mean: a deterministic reconstruction."""
        mu = self.module_.encode(x)  # (B, K)
        return AutoencoderOutput(self.module_.decoder(mu), mu, self.module_.output_activation)

    def _log_jacobian(self) -> float:
        """log |d(scaled x) / dx| summed over the features: turns the density of the scaled
        data into that of the data in its own units (Gaussian likelihood only; a Bernoulli
        likelihood is a probability of [0, 1] values, which scaling does not change)."""
        if self.likelihood_ != "gaussian" or self.scaling_ is None:
            return 0.0
        return -float(np.log(self.scaling_.scale.astype(np.float64)).sum())

    def _seeded_map(self, fn: Any, X: Any, random_state: Any) -> np.ndarray:
        """``fn`` over the scaled rows of ``X`` under a seed drawn from ``random_state``.

        The noise is drawn per batch, so these Monte Carlo estimates are repeatable for one
        ``X`` and seed but, unlike the deterministic methods, a row's value depends on the rows
        batched with it; they skip the padding of fixed-size chunks, which would only add cost
        (see :meth:`TorchEstimator._map_batches`).
        """
        X, _ = self._validate(X, reset=False)
        scaled = self._scale_finite(X)
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        with seeded(seed, self.device_):
            return self._finite(self._map_batches(fn, scaled, exact=False))

    def elbo(self, X: Any, random_state: int | np.random.RandomState | None = None) -> np.ndarray:
        """The evidence lower bound log p(x) >= E_q[log p(x|z)] - KL per sample, in nats.

        A one-sample estimate (``beta`` is not applied: it is the bound itself), in the units
        of the data as given (the scaling's Jacobian is accounted for). Shape ``(n_samples,)``.
        """
        likelihood = self.likelihood_
        values = self._seeded_map(
            lambda x: -elbo_terms(self.module_, x, likelihood).loss, X, random_state
        )
        return values.astype(np.float64) + self._log_jacobian()

    def log_likelihood(
        self,
        X: Any,
        n_samples: int = 1000,
        random_state: int | np.random.RandomState | None = None,
    ) -> np.ndarray:
        """Importance-sampled estimate of log p(x) per sample, in nats (Burda et al. 2016).

        log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K with
        z_k ~ q(z|x), k = 1..K (``n_samples``); a lower bound in expectation that tightens as K
        grows (K = 1 is the ELBO). The samples are decoded in chunks, so K = 5000 does not need
        more memory than K = 100. For binarized MNIST, pass one fixed binary sample of the test
        set: ``(rng.random_sample(X.shape) < X)``. Shape ``(n_samples_of_X,)``.
        """
        check_value("n_samples", n_samples, Integer(1))
        likelihood = self.likelihood_
        values = self._seeded_map(
            lambda x: log_likelihood(self.module_, x, likelihood, int(n_samples)),
            X,
            random_state,
        )
        return values.astype(np.float64) + self._log_jacobian()

    def score(self, X: Any, y: Any = None) -> float:
        """Mean ELBO per sample in nats (higher is better), with a fixed seed so that it is
        repeatable."""
        return float(np.mean(self.elbo(X, random_state=0)))

    def sample(self, n: int, random_state: int | np.random.RandomState | None = None) -> np.ndarray:
        """Draw ``n`` samples: z ~ N(0, I) decoded to the mean of p(x|z).

        Returns the means (pixel probabilities for a Bernoulli likelihood, which is what one
        shows as images) in the shape of the training samples, ``(n, *sample_shape)``.
        """
        check_value("n", n, Integer(1))
        latent = self.module_.config.latent_dim
        Z = check_random_state(random_state).standard_normal((int(n), latent))
        return self.inverse_transform(Z.astype(np.float32))

    def interpolate(self, a: Any, b: Any, steps: int = 10) -> np.ndarray:
        """Decode the straight line between the codes of the samples ``a`` and ``b``.

        ``a`` and ``b`` are single samples (shape of one training sample, or a batch of one).
        Returns ``steps`` decoded points from ``a``'s code to ``b``'s, shape
        ``(steps, *sample_shape)``.
        """
        check_value("steps", steps, Integer(1))
        if int(steps) < 2:
            raise ValueError(f"steps must be at least 2 (both ends), got {steps!r}")
        codes = []
        for name, x in (("a", a), ("b", b)):
            check_dense(x, name)
            x = np.asarray(x, dtype=np.float32)
            if x.shape == tuple(self.input_shape_):
                x = x[None]
            if x.shape[0] != 1:
                raise ValueError(
                    f"{name} must be one sample of shape {tuple(self.input_shape_)}, "
                    f"got an array of shape {x.shape}"
                )
            codes.append(self.transform(x)[0])
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]  # (steps, 1)
        return self.inverse_transform((1 - t) * codes[0] + t * codes[1])

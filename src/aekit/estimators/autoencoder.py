"""The autoencoder estimator: every deterministic autoencoder of the zoo comes from its
parameters (architecture, regularisers, noise), not from a class per variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from aekit._validation import Boolean, Constraint, Options, OrNone, Real
from aekit.estimators._architectures import ARCHITECTURES
from aekit.estimators._family import FAMILY_CONSTRAINTS, BaseAutoencoder, Objective
from aekit.estimators._plan import Plan
from aekit.losses import LOSSES, LossOutput
from aekit.losses.regularizers import SPARSITY, jacobian_frobenius, weight_penalty
from aekit.models import CODE_ACTIVATIONS, OUTPUT_ACTIVATIONS
from aekit.models.recurrent import CELLS
from aekit.noise import NOISES, check_noise, corrupt

# Weight of each sparsity penalty when `sparsity_weight=None`. The reconstruction losses are
# means over features, so these weights are small beside the per-sum figures of the
# literature: Ng's beta = 3 on half the summed squared error of 784 pixels is 3 / 392 ~ 0.008
# on the mean. On MNIST (784-196-784, rho 0.05, 100 epochs) KL weight 0.01 gave a mean code
# activation of 0.054 at a test BCE 14% above the unpenalised net's; on 20,000 digits for 60
# epochs, 0.03 gave 0.060 for +46% and 0.01 gave 0.069 for +34%: larger weights buy little.
SPARSITY_WEIGHTS: dict[str, float] = {"l1": 1e-4, "kl": 0.01}


class Autoencoder(BaseAutoencoder):
    """Autoencoder x -> z = f(x) -> x_hat = g(z), trained to minimise L(x, x_hat) + penalties.

    The encoder f and decoder g are stacks of layers y = x W^T + b (or convolutions, or
    recurrent cells) with activations, trained by backpropagation with Adam (or SGD) on
    mini-batches. The default dense network halves its width from the input down to the code
    and mirrors it in the decoder; ``hidden=()`` gives the shallow input-code-output model and
    ``activation=None`` a linear autoencoder, which, trained with squared error, spans the same
    subspace as PCA.

    Every variant of the lecture hall is a choice of parameters; the objective is

        L(x, g(f(x_tilde))) + beta Omega(f(x_tilde)) + (lambda / 2) sum ||W||^2
        + gamma ||J_f(x_tilde)||_F^2

    where x_tilde is x itself, or a fresh corruption of it for every batch (``noise``: a
    denoising autoencoder), Omega a sparsity penalty (``sparsity``), lambda ``weight_decay`` and
    gamma ``contractive``; see :mod:`aekit.losses.regularizers` for the formulas.

    Parameters
    ----------
    architecture : {"dense", "conv", "recurrent"}, default="dense"
        Network family. ``"dense"`` flattens each sample (an image stack ``(n, h, w)`` becomes
        ``(n, h * w)``). ``"conv"`` takes 1-D signals ``(n, L)`` / ``(n, C, L)`` and images
        ``(n, H, W)`` / ``(n, C, H, W)`` of any size (see ``spatial_dims``): stride-2
        convolutions down, upsampling back to the exact input size, a dense bottleneck of
        ``latent_dim``. ``"recurrent"`` takes sequences ``(n, T)`` or ``(n, T, F)``: a recurrent
        encoder whose final state gives the code, and a recurrent decoder fed the code at every
        step. Outputs always come back in the input's shape.
    latent_dim : int, default=32
        Size of the code z.
    hidden : sequence of int or None, default=None
        Dense: encoder widths between input and code (``None``: the halving rule of
        :func:`aekit.models.halving_widths`; none for a linear network, whose stacked layers
        would compose to one; ``()``: no hidden layer). Conv: channels of the stride-2 blocks
        (``None``: :func:`aekit.models.conv.default_channels`, 32 doubling per block while the
        maps stay at least 4 wide). Recurrent: widths of the stacked recurrent layers
        (``None``: one layer of 64).
    activation : {"relu", "leaky_relu", "tanh", "sigmoid", "linear"} or None, default="relu"
        Hidden units (dense and conv; recurrent cells keep their own tanh and sigmoid gates).
        ``None`` or ``"linear"`` makes a dense or conv network linear (code and output too,
        unless they are given explicitly); for a recurrent one it makes code and output
        linear.
    code_activation : str, default="auto"
        Activation of the code. ``"auto"``: sigmoid with ``sparsity="kl"``; otherwise, with no
        hidden layer the code is the hidden layer and uses ``activation`` (the classic shallow
        autoencoder), and a deeper encoder ends in a linear code, as in Hinton &
        Salakhutdinov (2006). ``"binary"``: bits, for semantic hashing (codes trained as 0/1,
        :class:`aekit.models.layers.BinaryCode`; ``transform(X, binary=True)`` packs them).
    output_activation : {"auto", "sigmoid", "linear", "tanh", ...}, default="auto"
        ``"auto"``: sigmoid when the (scaled) training data lies in [0, 1], linear otherwise.
    loss : {"auto", "bce", "mse", "multinomial"}, default="auto"
        ``"auto"``: binary cross-entropy with a sigmoid output, squared error otherwise. Both
        are means over features, per sample. ``"multinomial"``: for documents (word counts,
        TF-IDF; non-negative), the row's share of each feature scored by a softmax output
        (``output_activation="auto"`` becomes ``"softmax"``), summed over features; the
        reconstruction is then that distribution, not the row in its own units.
    sparsity : {None, "l1", "kl"}, default=None
        Sparsity penalty on the code: ``"l1"`` sum_j |z_j| per sample; ``"kl"`` sum_j
        KL(rho || rho_hat_j) over the batch-mean activation rho_hat_j of each code unit, which
        needs code units in (0, 1) (a sigmoid code).
    sparsity_target : float, default=0.05
        rho, the target mean activation of each code unit (``sparsity="kl"``).
    sparsity_weight : float or None, default=None
        beta, the weight of the sparsity penalty; ``None`` takes ``SPARSITY_WEIGHTS``
        (1e-4 for "l1", 0.01 for "kl").
    weight_decay : float, default=0.0
        lambda of the L2 penalty (lambda / 2) sum ||W||^2 on the weights (not the biases);
        1e-4 to 1e-3 are usual.
    dropout : float, default=0.0
        Dropout probability after every hidden layer (not the code, not the output): none
        with ``hidden=()``, and for recurrent networks only between stacked recurrent layers
        (none with a single layer).
    contractive : float, default=0.0
        gamma, the weight of the contractive penalty ||J_f(x)||_F^2, computed exactly (one
        vector-Jacobian product per code unit, so it costs about ``latent_dim`` backward
        passes of the encoder).
    noise : {None, "gaussian", "masking", "salt_pepper"}, default=None
        Corruption of the input for a denoising autoencoder: a fresh draw for every batch of
        every epoch, scored against the clean input. The validation loss is the denoising loss
        too, on a fresh corruption each epoch, so early stopping watches a slightly noisy
        figure.
    noise_level : float or None, default=None
        Standard deviation (gaussian) or probability per feature (masking, salt_pepper);
        ``None`` takes :data:`aekit.noise.DEFAULT_LEVELS` (0.5, 0.25, 0.1). Data in [0, 1]
        stays in [0, 1] (Gaussian noise is clipped; salt and pepper are 1 and 0).
    cell : {"lstm", "gru", "elman", "jordan"}, default="lstm"
        Recurrent cell (``architecture="recurrent"``).
    bidirectional : bool, default=False
        Recurrent layers reading the sequence both ways, in the encoder and the decoder
        (``architecture="recurrent"``).
    spatial_dims : {None, 1, 2, 3}, default=None
        How many trailing axes of a sample are spatial (``architecture="conv"``); ``None``
        reads the rank: ``(L,)`` 1-D, ``(H, W)`` and ``(C, H, W)`` 2-D, ``(C, D, H, W)`` 3-D.
        Give 1 for multi-channel signals ``(C, L)``.
    upsample : {"transpose", "nearest"}, default="transpose"
        Decoder blocks of ``architecture="conv"``: transposed convolutions, or nearest-neighbour
        upsampling followed by a convolution.
    scaling : {"auto", "standard", "minmax", "center", "range"} or None, default="auto"
        Scaling fitted on the training data and undone on outputs: per feature for dense
        networks, per channel for conv and recurrent ones. ``"center"`` removes each
        feature's mean and divides by one shared scale (per channel for conv and recurrent
        networks): features keep their relative sizes, so a spectrum's peak bins weigh as
        their counts do and every bin keeps its own level. ``"auto"`` leaves data in [0, 1]
        unchanged, scales uint8 and uint16 data (images) to [0, 1] by their dtype's range
        (``"range"``: divided by 255 or 65535, so the output is a sigmoid and the loss binary
        cross-entropy) and z-scores anything else: other integer dtypes, floats, and
        DataFrames whose columns do not share one of those dtypes. ``"range"`` maps any
        integer dtype's range to [0, 1]; for 12-bit values in uint16, which fill a sixteenth
        of it, ``"minmax"`` uses the data's own range. New data at inference is scaled as the
        training data was, whatever its dtype: give it in the same units (0 to 255, not
        [0, 1], after training on uint8). ``scaling_.describe()`` says what was done.
    max_memory : int or str, default="auto"
        Bytes the float32 copy of the training data may take in memory: a number or a text
        such as ``"8GB"``; ``"auto"`` is half the memory available when the fit starts (capped
        by a container's or a job's limit). Data within it (an array, or a file source such as
        :class:`aekit.datasets.HDF5Source`, read once into one float32 copy) trains from
        memory; larger data, a file source or a ``np.memmap``, is streamed from its file batch
        by batch by reader processes, shuffled by chunks (``0`` always streams). Streaming
        gives the same scaling as in memory; the batches' order differs (see
        docs/scale.md).
    epochs : int, default=100
        Maximum passes over the training data.
    batch_size : int or None, default=None
        Samples per gradient step. ``None`` sizes it to the training set (after the
        validation split): about 20 steps an epoch, 16 to 256 samples a step
        (``min(256, max(16, n // 20))``, :func:`aekit.training.default_batch_size`), so that
        a short run on a small set still takes enough steps (1,000 MNIST images: 45) and a set
        of 5,120 samples or more gets the usual 256. ``batch_size_`` holds the size used.
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adam", "sgd"}, default="adam"
        ``"sgd"`` is SGD with momentum 0.9.
    validation_fraction : float, default=0.1
        Share of the training data held out to monitor the validation loss (ignored when
        ``fit`` gets ``validation_data``). 0 trains on everything and monitors the training loss.
    early_stopping : bool, default=True
        Stop after ``patience`` epochs without improvement of the monitored loss and restore
        the weights of the best epoch.
    patience : int, default=10
        Epochs without improvement before early stopping.
    lr_schedule : {None, "cosine", "plateau"}, default=None
        Learning-rate schedule, stepped every epoch: ``"cosine"`` anneals ``lr`` to 0 over
        ``epochs`` (Loshchilov & Hutter 2017, without restarts), ``"plateau"`` divides it by
        10 after 5 epochs without improvement of the monitored loss; ``None`` keeps it constant.
    clip_grad_norm : float or None, default=None
        Largest global L2 norm of the gradients of a step (larger ones are scaled down), for
        runs whose loss spikes; ``None`` does not clip.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Arithmetic of training. ``"fp32"`` is exact float32. ``"bf16"`` and ``"fp16"`` run
        the forward pass and the loss under torch's autocast (matrix products and
        convolutions in 16 bits; weights and gradients in float32), for the tensor cores of
        a GPU (bfloat16 needs an Ampere or newer NVIDIA GPU); ``"fp16"`` also scales the
        loss so that small gradients do not underflow. On a CPU both run, slower than
        float32. Inference (``transform``, ``reconstruct``, scores) always runs in float32,
        so its results stay exact and independent of the batching. See docs/training.md,
        "Precision and speed on GPUs".
    compile : bool, default=False
        Train through ``torch.compile`` of the network: faster steps on a GPU after a
        compilation that takes seconds to a minute. Where torch cannot compile (no C++
        compiler, an unsupported platform or operation) training goes on uncompiled, with a
        ``RuntimeWarning``. The network saved and used for inference is the plain one.
    device : str, default="auto"
        ``"auto"`` uses CUDA, then MPS, then the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, data order, noise and the validation split; an int gives
        bit-identical runs on the CPU.
    verbose : bool, default=True
        Show a progress bar over epochs, only on a terminal or in a notebook.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (:class:`aekit.models.DenseAutoencoder`, ``ConvAutoencoder`` or
        ``RecurrentAutoencoder``).
    history_ : list of dict
        One dict per epoch: ``epoch`` (1-based), ``loss``, ``reconstruction`` and each penalty
        in use
        (``sparsity``, ``weight_decay``, ``contractive``, weights included, so the terms add
        up to ``loss``), the same with a ``val_`` prefix with validation, and ``time`` in
        seconds.
    best_epoch_ : int
        Epoch whose weights the model holds.
    loss_ : str
        The loss used (``"bce"`` or ``"mse"``).
    batch_size_ : int
        Samples per gradient step used in training (``batch_size``, or its size-aware
        default).
    scaling_ : aekit.data.Scaling or None
        The fitted scaling (None when the data was left as it is).
    n_features_in_ : int
        Features per sample (pixels of an image).
    input_shape_ : tuple of int
        Shape of one sample as seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame with string column names.
    device_ : torch.device
        Where the module lives.

    Examples
    --------
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> X, y = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 2)
    >>> ae.reconstruct(X).shape
    (1797, 8, 8)
    >>> dae = Autoencoder(architecture="conv", noise="gaussian", epochs=2, random_state=0)
    >>> dae.fit(X).denoise(X).shape
    (1797, 8, 8)
    """

    def __init__(
        self,
        *,
        architecture: str = "dense",
        latent_dim: int = 32,
        hidden: Sequence[int] | None = None,
        activation: str | None = "relu",
        code_activation: str = "auto",
        output_activation: str = "auto",
        loss: str = "auto",
        sparsity: str | None = None,
        sparsity_target: float = 0.05,
        sparsity_weight: float | None = None,
        weight_decay: float = 0.0,
        dropout: float = 0.0,
        contractive: float = 0.0,
        noise: str | None = None,
        noise_level: float | None = None,
        cell: str = "lstm",
        bidirectional: bool = False,
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
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
        self.sparsity = sparsity
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.contractive = contractive
        self.noise = noise
        self.noise_level = noise_level
        self.cell = cell
        self.bidirectional = bidirectional
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

    _parameter_constraints: ClassVar[dict[str, Constraint]] = {
        **FAMILY_CONSTRAINTS,
        "architecture": Options(ARCHITECTURES),
        "code_activation": Options(["auto", *CODE_ACTIVATIONS]),
        "output_activation": Options(["auto", *OUTPUT_ACTIVATIONS]),
        "loss": Options(["auto", *LOSSES]),
        "sparsity": Options([None, *SPARSITY]),
        "sparsity_target": Real(0, 1, closed="neither"),
        "sparsity_weight": OrNone(Real(0)),
        "contractive": Real(0),
        "noise": Options([None, *NOISES]),
        "noise_level": OrNone(Real(0)),
        "cell": Options(list(CELLS)),
        "bidirectional": Boolean(),
    }

    def _plan_settings(self) -> dict[str, Any]:
        return {"loss": self.loss, "sigmoid_code": self.sparsity == "kl"}

    def _penalties(self) -> dict[str, float]:
        """The weights of the penalties in use."""
        weights: dict[str, float] = {}
        if self.sparsity is not None:
            weight = self.sparsity_weight
            weights["sparsity"] = (
                SPARSITY_WEIGHTS[self.sparsity] if weight is None else float(weight)
            )
        for name in ("weight_decay", "contractive"):
            if getattr(self, name) > 0:
                weights[name] = float(getattr(self, name))
        return weights

    def _objective(self, plan: Plan) -> Objective:
        """Reconstruction of the clean input from a corrupted one (with ``noise``) plus the
        weighted penalties."""
        weights = self._penalties()
        level = check_noise(self.noise, self.noise_level)
        # Data in [0, 1] stays there under corruption (pixels); other data is unbounded.
        low, high = (0.0, 1.0) if plan.unit_interval else (None, None)
        noise, loss = self.noise, LOSSES[plan.loss]
        target = float(self.sparsity_target)
        sparsity = SPARSITY[self.sparsity] if self.sparsity is not None else None

        def objective(module: torch.nn.Module, x: torch.Tensor) -> LossOutput:
            x_in = corrupt(x, noise, level, low, high) if noise is not None else x  # (B, D)
            terms: dict[str, torch.Tensor] = {}
            if "contractive" in weights:
                keep_graph = torch.is_grad_enabled()
                with torch.enable_grad():  # the Jacobian is needed for validation too
                    x_in = x_in.detach().requires_grad_(True)
                    out = module(x_in)
                    jac = jacobian_frobenius(out.z, x_in, create_graph=keep_graph).mean()
                terms["contractive"] = weights["contractive"] * jac
            else:
                out = module(x_in)
            terms = {"reconstruction": loss(out, x, reduction="mean"), **terms}
            if sparsity is not None:
                terms["sparsity"] = weights["sparsity"] * sparsity(out.z, target).mean()
            if "weight_decay" in weights:
                terms["weight_decay"] = weights["weight_decay"] * weight_penalty(module)
            total = torch.stack(list(terms.values())).sum()
            return LossOutput(total, {k: v.detach() for k, v in terms.items()})

        return objective

"""`aekit train DATA --out MODEL_DIR [--model NAME] [options]`: fit a model and save it.

``--model`` picks the estimator (autoencoder, vae, classifier, detector, autorec); every flag maps
to the estimator parameter of the same name, and a flag the chosen model does not take is an error.
``--model autorec`` reads DATA as a ratings table (.csv, .tsv: one rating per line, user, item and
rating columns found by name or given with --user-column, --item-column, --rating-column).
The classifier needs labels: ``--labels FILE`` (.npy, or a .csv of one column; numbers or
texts), ``--labels COLUMN`` naming a column of the table DATA (which is then no feature), or
the built-in labels when DATA is a built-in name.

Under ``torchrun --nproc-per-node N -m aekit train ...`` the N processes train one model with
DistributedDataParallel (docs/scale.md); rank 0 alone saves it and prints, the others are silent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aekit._text import plural
from aekit.cli._common import (
    FORMAT_OPTIONS,
    TABLE_OPTIONS,
    TABLE_SUFFIXES,
    Data,
    Input,
    Output,
    add_data_argument,
    check_device,
    check_paths,
    data_input,
    finish_parser,
    read_data,
    read_labels,
    say,
    verb_parser,
)
from aekit.datasets import BUILTIN_LABELS

if TYPE_CHECKING:
    from aekit.estimators.base import TorchEstimator


class _Estimators(Mapping[str, "type[TorchEstimator]"]):
    """Name -> estimator class, imported on first lookup: the classes bring torch and
    scikit-learn, which ``aekit train --help`` does without."""

    def __init__(self, names: dict[str, str]) -> None:
        self._names = names  # name -> class name in aekit.estimators

    def __getitem__(self, name: str) -> type[TorchEstimator]:
        from aekit.estimators import ESTIMATORS

        return ESTIMATORS[self._names[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# --model name -> estimator class.
MODELS = _Estimators(
    {
        "autoencoder": "Autoencoder",
        "vae": "VAE",
        "classifier": "AutoencoderClassifier",
        "detector": "AnomalyDetector",
        "autorec": "AutoRec",
    }
)


def _memory(text: str) -> int | str:
    from aekit._validation import parse_bytes

    if text.strip().lower() == "auto":
        return "auto"
    size = parse_bytes(text)
    if size is None:
        raise argparse.ArgumentTypeError(
            f"expected a size such as 8GB, 512MiB or auto, got {text!r}"
        )
    return size


def _widths(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text.lower() in ("", "none", "()"):
        return ()
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    return widths


def _activation(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# (flag, estimator parameter, type, help). Flags default to argparse.SUPPRESS, so a flag that was
# not given is absent from the namespace and --config keeps its value; None stays a real value
# ("--activation none" is a linear net).
OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--architecture", "architecture", str, "network family: dense, conv or recurrent"),
    ("--latent-dim", "latent_dim", int, "size of the code"),
    ("--hidden", "hidden", _widths, "encoder widths, e.g. 256,64 ('none' for no hidden layer)"),
    ("--activation", "activation", _activation, "relu, leaky_relu, tanh, sigmoid, linear or none"),
    ("--code-activation", "code_activation", str, "activation of the code (auto)"),
    ("--output-activation", "output_activation", str, "auto, sigmoid, linear, tanh"),
    ("--loss", "loss", str, "auto, bce, mse or multinomial (documents)"),
    ("--scaling", "scaling", _activation, "auto, standard, minmax, center, range or none"),
    ("--sparsity", "sparsity", _activation, "none, l1 or kl (sparse autoencoder)"),
    ("--sparsity-target", "sparsity_target", float, "target mean code activation (kl)"),
    ("--sparsity-weight", "sparsity_weight", _optional_float, "weight of the sparsity penalty"),
    ("--weight-decay", "weight_decay", float, "L2 weight penalty lambda"),
    ("--dropout", "dropout", float, "dropout probability after hidden layers"),
    ("--contractive", "contractive", float, "weight of the contractive penalty"),
    ("--noise", "noise", _activation, "none, gaussian, masking or salt_pepper (denoising)"),
    ("--noise-level", "noise_level", _optional_float, "noise std or corruption probability"),
    ("--cell", "cell", str, "recurrent cell: lstm, gru, elman or jordan"),
    ("--bidirectional", "bidirectional", _flag, "bidirectional recurrent encoder (true/false)"),
    ("--spatial-dims", "spatial_dims", _optional_int, "spatial axes of a conv sample (1-3)"),
    ("--upsample", "upsample", str, "conv decoder: transpose or nearest"),
    ("--beta", "beta", float, "VAE: weight of the KL term"),
    ("--likelihood", "likelihood", str, "VAE: auto, bernoulli or gaussian"),
    ("--binarize", "binarize", _activation, "VAE: none or dynamic"),
    ("--pretrain-epochs", "pretrain_epochs", int, "classifier: epochs per pretrained layer"),
    ("--contamination", "contamination", float, "detector: expected share of outliers"),
    ("--n-estimators", "n_estimators", int, "detector: autoencoders in the ensemble"),
    ("--window", "window", _optional_int, "detector: window length for a time series"),
    (
        "--causal",
        "causal",
        _flag,
        "detector: a step's score uses only it and the steps before (true/false)",
    ),
    ("--trim", "trim", _optional_float, "detector: share left out of the loss (contamination)"),
    ("--covariance", "covariance", str, "detector: auto, full or diag"),
    ("--kind", "kind", str, "autorec: item (I-AutoRec: items' rating vectors) or user"),
    ("--user-column", "user_column", str, "autorec: the user column of DATA (auto)"),
    ("--item-column", "item_column", str, "autorec: the item column of DATA (auto)"),
    ("--rating-column", "rating_column", str, "autorec: the rating column of DATA (auto)"),
    ("--epochs", "epochs", int, "maximum number of epochs"),
    ("--batch-size", "batch_size", _optional_int, "samples per step"),
    ("--lr", "lr", float, "learning rate"),
    ("--optimizer", "optimizer", str, "adam or sgd"),
    ("--validation-fraction", "validation_fraction", float, "share held out for validation"),
    ("--patience", "patience", int, "epochs without improvement before stopping"),
    ("--device", "device", str, "auto, cpu, cuda or mps"),
    ("--precision", "precision", str, "training arithmetic: fp32, bf16 or fp16 (GPU tensor cores)"),
    (
        "--max-memory",
        "max_memory",
        _memory,
        "memory the data may take as float32, e.g. 8GB (auto: half the free memory); larger "
        "data is streamed from its file",
    ),
    ("--seed", "random_state", int, "random seed (bit-identical CPU runs)"),
]


def add_parser(subparsers: Any) -> None:
    parser = verb_parser(subparsers, "train", "train a model and save it", __doc__, raw=True)
    add_data_argument(parser)
    parser.add_argument(
        "--model", choices=list(MODELS), default="autoencoder", help="estimator (autoencoder)"
    )
    parser.add_argument(
        "--labels",
        metavar="FILE",
        help="labels for --model classifier: a file (.npy, or .csv of one column), or the "
        "name of a column of the table DATA",
    )
    parser.add_argument("--out", required=True, metavar="MODEL_DIR", help="where to save the model")
    parser.add_argument("--config", metavar="FILE", help="JSON file of estimator parameters")
    for flag, dest, kind, text in OPTIONS:
        parser.add_argument(flag, dest=dest, type=kind, default=argparse.SUPPRESS, help=text)
    parser.add_argument(
        "--no-early-stopping",
        dest="early_stopping",
        action="store_false",
        default=argparse.SUPPRESS,
        help="train for all epochs and keep the last weights",
    )
    parser.add_argument(
        "--compile",
        dest="compile",
        action="store_true",
        default=argparse.SUPPRESS,
        help="train through torch.compile (uncompiled, with a warning, where it cannot)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="save the training state in DIR every --checkpoint-every epochs and on Ctrl-C, "
        "to continue with --resume DIR after a crash",
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run checkpointed in DIR (same data and options; a fresh start "
        "when DIR holds no checkpoint yet)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=1,
        metavar="N",
        help="epochs between checkpoints (1)",
    )
    parser.add_argument(
        "--text",
        action="store_true",
        help="DATA holds documents, one a line: train on their TF-IDF features (kept sparse; "
        "the model keeps the vocabulary, so index, search and encode read documents too); "
        "an autoencoder's loss is then multinomial unless --loss says otherwise",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    finish_parser(parser, run, device_help=None)  # --device is one of OPTIONS


def estimator_params(args: argparse.Namespace) -> dict[str, Any]:
    """Parameters from --config, overridden by the flags given on the command line."""
    model = getattr(args, "model", "autoencoder")
    accepted = set(MODELS[model]().get_params())
    params: dict[str, Any] = {}
    if args.config:
        try:
            params = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{args.config} is not valid JSON: {exc}") from None
        if not isinstance(params, dict):
            raise ValueError(f"{args.config} must hold a JSON object of estimator parameters")
        unknown = set(params) - accepted
        if unknown:
            raise ValueError(
                f"{args.config} names parameters that --model {model} does not take: "
                f"{sorted(unknown)}"
            )
    given = vars(args)
    flags = {dest: flag for flag, dest, _, _ in OPTIONS}
    flags["early_stopping"] = "--no-early-stopping"
    flags["compile"] = "--compile"
    for dest, flag in flags.items():
        if dest in given:
            if dest not in accepted:
                raise ValueError(f"{flag} is not an option of --model {model}")
            params[dest] = given[dest]
    params["verbose"] = not args.quiet
    return params


def _checkpoint_dir(args: argparse.Namespace) -> str | None:
    """The checkpoint folder of ``--checkpoint`` / ``--resume``, checked before any work."""
    from aekit.training.checkpoint import check_checkpoint_dir

    if args.checkpoint_every < 1:
        raise ValueError(
            f"--checkpoint-every must be a positive integer, got {args.checkpoint_every}"
        )
    if args.checkpoint and args.resume and Path(args.checkpoint) != Path(args.resume):
        raise ValueError(
            "give --checkpoint DIR for a new run or --resume DIR to continue one, not both"
        )
    folder = args.resume or args.checkpoint
    if folder is None:
        return None
    # The model is saved as a folder of its own, which a checkpoint inside (or around) it
    # would make foreign: refused now, not after training.
    out, ck = Path(args.out).resolve(), Path(folder).resolve()
    if ck == out or out in ck.parents or ck in out.parents:
        raise ValueError(
            f"the checkpoint folder {folder} and --out {args.out} must be apart (neither "
            "inside the other): the model is saved on its own"
        )
    check_checkpoint_dir(folder, resume=args.resume is not None)
    return folder


def _ratings(args: argparse.Namespace) -> dict[str, Any]:
    """DATA as a ratings table for --model autorec: its columns, of which AutoRec takes the
    user, item and rating ones (not a table of features: the table options do not apply)."""
    from aekit.estimators.autorec import read_ratings

    others = [("--key", "key", ""), ("--sample-axes", "sample_axes", ""), ("--text", "text", "")]
    options = [*TABLE_OPTIONS, *FORMAT_OPTIONS, *others]
    given = [flag for flag, dest, _ in options if getattr(args, dest, None) not in (None, False)]
    if given:
        raise ValueError(
            f"{', '.join(given)}: not options of --model autorec, which reads DATA as a ratings "
            "table (name its columns with --user-column, --item-column, --rating-column)"
        )
    if Path(args.data).suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(
            f"--model autorec reads a ratings table ({', '.join(TABLE_SUFFIXES)} with user, item "
            f"and rating columns); {args.data} is not one"
        )
    return read_ratings(args.data)


def run(args: argparse.Namespace) -> int:
    from aekit.training.distributed import launched_rank

    if launched_rank() == 0:
        return _run(args)
    # Under torchrun every rank trains the same model; rank 0 alone writes it and speaks (an
    # error is still reported by every rank that meets it).
    with open(os.devnull, "w") as quiet:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            return _run(args)


def _run(args: argparse.Namespace) -> int:
    from aekit.training.distributed import world

    # Every mistake that can be seen before training is refused before reading DATA.
    check_paths(
        [data_input(args.data), Input(args.labels, "--labels"), Input(args.config, "--config")],
        [Output(args.out, "--out", kind="model")],
    )
    if args.labels and args.model != "classifier":
        raise ValueError("--labels is an option of --model classifier")
    if args.model == "classifier" and not args.labels and args.data not in BUILTIN_LABELS:
        raise ValueError("--model classifier needs labels: give --labels FILE (.npy or .csv)")
    checkpoint = _checkpoint_dir(args)
    params = estimator_params(args)
    if args.text and "loss" not in params and args.model in ("autoencoder",):
        params["loss"] = "multinomial"  # documents: where a row's weight lies, not its zeros
    check_device(params.get("device"))
    ae = MODELS[args.model](**params)
    if args.model == "autorec":
        data = Data(_ratings(args), None, "row", None)
    else:
        # The autoencoder family streams a file larger than its memory budget (max_memory).
        data = read_data(args, stream="max_memory" in ae.get_params())
    X = data.X
    start = time.perf_counter()
    resumable = {
        "checkpoint": checkpoint,
        "resume": args.resume is not None,
        "checkpoint_every": args.checkpoint_every,
    }
    if args.model == "classifier":
        y = read_labels(args, data)
        if y is None:
            raise ValueError("--model classifier needs labels: give --labels FILE (.npy or .csv)")
        ae.fit(X, y, **resumable)
    else:
        ae.fit(X, **resumable)
    elapsed = time.perf_counter() - start
    if hasattr(ae, "scaling_"):
        scaling = ae.scaling_
        said = "values used as they are (no scaling)" if scaling is None else scaling.describe()
        say(args, f"{args.data}: {said}")
    if data.table is not None:
        ae.table_ = data.table  # new tables are read with the same columns and rules
    if data.text is not None:
        ae.text_ = data.text  # new documents get the same words and weights
    path = ae.save(args.out)
    last = ae.history_[ae.best_epoch_ - 1] if ae.best_epoch_ else ae.history_[-1]
    losses = ", ".join(f"{k} {v:.5g}" for k, v in last.items() if k in ("loss", "val_loss"))
    processes = world()
    where = f"{ae.device_}" + ("" if processes is None else f", {processes.size} processes")
    print(
        f"trained {plural(len(ae.history_), 'epoch')} in {elapsed:.1f} s on {where}; "
        f"kept epoch {ae.best_epoch_} ({losses}); saved {path}"
    )
    return 0

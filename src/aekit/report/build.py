"""Build the report: sections of HTML from a fitted estimator and (optionally) data."""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import io
import itertools
import json
import re
import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

import aekit
from aekit.io.atomic import atomic_file, check_writable_parent
from aekit.report.baseline import DEFINITION, pca_baseline
from aekit.report.latent_map import map_payload

# The page may load nothing: no script, style, image or font from anywhere but itself; and
# of its own inline scripts and styles only those the report wrote run (their hashes are
# listed, so a script smuggled in through a label or a title would be refused).
CSP = (
    "default-src 'none'; img-src data:; style-src {styles}; script-src {scripts}; "
    "base-uri 'none'; form-action 'none'"
)
# Inside a <script> element the HTML parser looks for "</script", "<!--" and "<script"
# whatever the element's type ("<!--<script>" in a label swallows the rest of the page).
# JSON needs "<", ">" and "&" only inside strings, where \uXXXX means the same to JSON.parse;
# U+2028 and U+2029 end a line in older JavaScript parsers.
_JSON_ESCAPES = {c: f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}
_JSON_UNSAFE = re.compile("[<>&\u2028\u2029]")
# Lone surrogates (possible in numpy string labels) cannot be written as UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")
# Figures are drawn at this resolution (dots per inch) and inlined as PNG.
DPI = 100
# Metrics are computed on at most this many samples (a random subset beyond).
MAX_METRIC_SAMPLES = 20_000
# Similar items: the first queries on the map, their nearest neighbours, and for a table the
# features that differ most from the query (a short line per neighbour, not every feature).
N_QUERIES = 5
N_NEIGHBOURS_SHOWN = 5
N_DIFFERING = 3
# Reconstructions of 1-D signals: one panel per sample, so fewer than the image strip.
N_SIGNALS = 4


def _asset(name: str) -> str:
    text = (resources.files("aekit.report") / "assets" / name).read_text(encoding="utf-8")
    # The browser hashes an inline script or style after turning CR LF and CR into LF (a
    # checkout with Windows line ends would otherwise not match its own hash).
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _esc(value: Any) -> str:
    return html.escape(_SURROGATES.sub("\ufffd", str(value)), quote=True)


def _printable(labels: np.ndarray) -> np.ndarray:
    """Text labels with lone surrogates replaced (U+FFFD): neither UTF-8 nor the figures'
    fonts can show them."""
    if labels.dtype.kind not in "UO":
        return labels
    clean = [_SURROGATES.sub("\ufffd", v) if isinstance(v, str) else v for v in labels]
    return np.array(clean, dtype=labels.dtype)


def json_for_html(value: Any) -> str:
    """``value`` as JSON that can sit inside an HTML ``<script>`` element as it is.

    Every ``<``, ``>``, ``&``, U+2028 and U+2029 is written as a ``\\uXXXX`` escape, so no
    text in the data (a label such as ``<!--<script>`` or ``</script>``) can end the element
    or change how the HTML parser reads it; ``JSON.parse`` and :func:`json.loads` read the
    same value back. Non-finite floats are refused (``JSON.parse`` rejects them).

    Parameters
    ----------
    value : JSON-serialisable object

    Returns
    -------
    str
        Compact JSON in ASCII.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return _JSON_UNSAFE.sub(lambda m: _JSON_ESCAPES[m.group()], text)


def _csp_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _csp(scripts: list[str], styles: list[str]) -> str:
    """The page's policy: exactly these inline scripts and styles (by hash), nothing else."""
    return CSP.format(
        scripts=" ".join(map(_csp_source, scripts)) or "'none'",
        styles=" ".join(map(_csp_source, styles)) or "'none'",
    )


def _num(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<div class="table-wrap"><table>{body}</table></div>'


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_shape(estimator: Any) -> tuple[int, int] | None:
    from aekit.tasks.generation import image_shape

    return None if getattr(estimator, "window", None) else image_shape(estimator)


def _is_detector(estimator: Any) -> bool:
    return hasattr(estimator, "decision_scores_")


def _conv_signal(estimator: Any, shape: tuple[int, ...]) -> tuple[int, int, bool] | None:
    from aekit.estimators._architectures import conv_shape

    try:
        net = conv_shape(shape, getattr(estimator, "spatial_dims", None))
    except ValueError:
        return None
    return (net[0], net[1], False) if len(net) == 2 else None


def _recurrent_signal(estimator: Any, shape: tuple[int, ...]) -> tuple[int, int, bool] | None:
    from aekit.estimators._architectures import recurrent_shape

    try:
        steps, features = recurrent_shape(shape)
    except ValueError:
        return None
    return features, steps, True


# Networks that read a sample in order along one axis, by `architecture`: what a sample of
# that shape is as a signal, (channels, length, time_major), or None. A dense network reads
# its features in no order, so its samples are rows of a table, whatever they hold.
_SIGNAL_READERS: dict[str, Callable[[Any, tuple[int, ...]], tuple[int, int, bool] | None]] = {
    "conv": _conv_signal,
    "recurrent": _recurrent_signal,
}


def _signal_layout(estimator: Any) -> tuple[int, int, bool] | None:
    """(channels, length, time_major) when the network reads its samples as 1-D signals: a
    convolution over one axis (``(L,)``, or ``(C, L)`` with ``spatial_dims=1``) or a
    recurrent network (``(T,)`` or ``(T, F)``); None otherwise, and for a detector's series
    (its windows have a figure of their own)."""
    reader = _SIGNAL_READERS.get(getattr(estimator, "architecture", None))
    if reader is None or getattr(estimator, "window", None):
        return None
    return reader(estimator, tuple(estimator.input_shape_))


def _as_signals(estimator: Any, X: np.ndarray) -> np.ndarray | None:
    """``X`` as 1-D signals ``(n, channels, length)``, or None (see :func:`_signal_layout`)."""
    layout = _signal_layout(estimator)
    if layout is None:
        return None
    channels, length, time_major = layout
    if time_major:
        return X.reshape(len(X), length, channels).transpose(0, 2, 1)
    return X.reshape(len(X), channels, length)


def _is_table(estimator: Any) -> bool:
    """Samples are rows of plain features: one axis, read in no order (a dense network)."""
    return (
        len(tuple(estimator.input_shape_)) == 1
        and not getattr(estimator, "window", None)
        and _signal_layout(estimator) is None
    )


def _name(names: np.ndarray | None, row: int) -> str:
    """How the page names row ``row`` of the data: its id, else its position."""
    return str(names[row]) if names is not None else f"#{row}"


def _picks(y: np.ndarray | None, n_samples: int, n: int) -> np.ndarray:
    """Samples to show: the first of each class (at most ``n``), else the first ``n``."""
    if y is None:
        return np.arange(min(n, n_samples))
    order = np.argsort(y, kind="stable")
    _, first = np.unique(y[order], return_index=True)
    return order[first][:n]


def _binary(y: np.ndarray | None) -> bool:
    return y is not None and np.isin(y, (0, 1)).all() and 0 < int(np.sum(y)) < len(y)


# ------------------------------------------------------------------------------- sections
def _model_section(estimator: Any, path: Path | None) -> str:
    from aekit.io.model_dir import loss_name

    module = estimator.module_
    config = getattr(module, "config", None)
    n_params = sum(p.numel() for p in module.parameters())
    rows: list[tuple[str, Any]] = [
        ("estimator", f"{type(estimator).__name__} ({type(module).__name__})"),
    ]
    if all(hasattr(config, a) for a in ("n_features", "hidden", "latent_dim")):
        widths = [config.n_features, *config.hidden, config.latent_dim]
        rows.append(("layers", "-".join(map(str, widths)) + " (the decoder mirrors them)"))
    elif all(hasattr(config, a) for a in ("n_features", "hidden", "n_classes")):
        widths = [config.n_features, *config.hidden, config.n_classes]
        rows.append(("layers", "-".join(map(str, widths)) + " (encoder, then the softmax head)"))
    rows.append(("size", f"{n_params:,} parameters ({4 * n_params / 1024:,.1f} KiB as float32)"))
    loss = loss_name(vars(estimator))
    if loss:
        rows.append(("loss", loss))
    rows.append(("input", f"samples of shape {tuple(estimator.input_shape_)}"))
    history = list(getattr(estimator, "history_", []) or [])
    if history:
        seconds = sum(float(r.get("time", 0.0)) for r in history)
        best = getattr(estimator, "best_epoch_", None) or len(history)
        last = history[best - 1] if 0 < best <= len(history) else history[-1]
        losses = ", ".join(
            f"{k} {_num(float(v))}" for k, v in last.items() if k in ("loss", "val_loss")
        )
        rows.append(
            ("training", f"{len(history)} epochs in {seconds:.1f} s, kept epoch {best} ({losses})")
        )
    rows.append(("device", str(getattr(estimator, "device_", "cpu"))))
    if path is not None:
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        rows.append(("saved at", f"{path} ({size / 1024:,.1f} KiB on disk)"))
    params = sorted(estimator.get_params(deep=False).items())
    details = _table([(k, repr(v)) for k, v in params])
    return (
        f'<section id="model"><h2>Model</h2>{_table(rows)}'
        f"<details><summary>all parameters</summary>{details}</details></section>"
    )


def _data_section(X: np.ndarray, y: np.ndarray | None, name: str | None, window: int | None) -> str:
    values = X.astype(np.float64, copy=False)
    rows: list[tuple[str, Any]] = []
    if name:
        rows.append(("source", name))
    if window:
        features = 1 if X.ndim == 1 else X.shape[1]
        rows.append(("series", f"{len(X):,} steps of {features} feature(s), windows of {window}"))
    else:
        rows.append(("samples", f"{len(X):,} of shape {X.shape[1:]}"))
    rows.append(
        (
            "values",
            f"min {_num(values.min())}, max {_num(values.max())}, "
            f"mean {_num(values.mean())}, std {_num(values.std())}",
        )
    )
    if y is not None:
        classes, counts = np.unique(y, return_counts=True)
        shown = ", ".join(f"{c}: {k}" for c, k in zip(classes[:20], counts[:20], strict=True))
        rows.append(
            ("labels", f"{len(classes)} classes ({shown}{', …' if len(classes) > 20 else ''})")
        )
    return (
        f'<section id="data"><h2>Data</h2>{_table(rows)}<p class="note">Metrics are measured '
        "on these data; the model may have been trained on them.</p></section>"
    )


def _metrics(
    estimator: Any,
    X: np.ndarray,
    y: np.ndarray | None,
    codes: np.ndarray | None,
    scores: np.ndarray | None,
    seed: int,
) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, value) rows: reconstruction beside PCA, the VAE's ELBO, accuracy, detection
    (from ``scores``, a detector's scores of all of X: a series cannot be subsampled); and
    notes that say what the figures are."""
    rows: list[tuple[str, str]] = []
    notes: list[str] = []
    if scores is not None:
        rows.append(("threshold", _num(float(estimator.threshold_))))
        rows.append(("flagged as outliers", f"{float((scores > estimator.threshold_).mean()):.2%}"))
        if _binary(y) and len(y) == len(scores):
            from sklearn.metrics import roc_auc_score

            from aekit.plot.anomaly import displayable_scores

            auc = roc_auc_score(y, displayable_scores(scores)[0])  # +inf ranks first, as it is
            rows.append(("ROC-AUC against the labels", f"{auc:.4f}"))
        return rows, notes
    rng = np.random.default_rng(seed)
    if len(X) > MAX_METRIC_SAMPLES:
        keep = np.sort(rng.choice(len(X), MAX_METRIC_SAMPLES, replace=False))
        X, y = X[keep], None if y is None else y[keep]
        rows.append(("samples", f"a random {MAX_METRIC_SAMPLES:,} of the data"))
    if hasattr(estimator, "reconstruct") and codes is not None:
        # The demo's console line comes from the same function on the same data.
        baseline = pca_baseline(estimator, X, codes.shape[1], seed)
        rows.append(("reconstruction error (squared error per sample)", _num(baseline.error)))
        ratio = f" ({baseline.ratio:.2f}x the model's)" if baseline.error > 0 else ""
        rows.append(
            (
                f"PCA with {baseline.n_components} components, fitted to these data",
                _num(baseline.pca_error) + ratio,
            )
        )
        notes.append(f"Reconstruction error: {DEFINITION}.")
    if hasattr(estimator, "elbo"):
        elbo = float(np.mean(estimator.elbo(X, random_state=seed)))
        rows.append(("ELBO (nats per sample, one-sample estimate)", _num(elbo)))
    if hasattr(estimator, "predict_proba") and y is not None:
        try:
            rows.append(("accuracy", f"{estimator.score(X, y):.4f}"))
        except ValueError as exc:
            rows.append(("accuracy", f"not computed: {exc}"))
    return rows, notes


def _figures(
    estimator: Any,
    X: np.ndarray | None,
    y: np.ndarray | None,
    scores: np.ndarray | None,
    shown: np.ndarray | None,
    payload: dict[str, Any] | None,
    names: np.ndarray | None,
    seed: int,
) -> list[tuple[str, str, Any]]:
    """(title, caption, figure) for every plot that applies to this model and data (a
    table's similar items are a section of their own, :func:`_similar_rows_section`)."""
    from aekit import plot

    figures: list[tuple[str, str, Callable[[], Any]]] = []
    image_shape = _image_shape(estimator)
    if getattr(estimator, "history_", None):
        figures.append(
            (
                "Training curves",
                "every loss term per epoch; dashed: validation",
                lambda: plot.training_curves(estimator),
            )
        )
    if hasattr(estimator, "sample") and image_shape is not None:
        figures.append(
            (
                "Samples",
                "new images decoded from z ~ N(0, I)",
                lambda: plot.image_grid(estimator.sample(30, random_state=seed), ncols=10),
            )
        )
    signals = None if X is None else _as_signals(estimator, X)
    if X is not None and image_shape is not None and hasattr(estimator, "reconstruct"):
        picks = _picks(y, len(X), 12 if y is not None else 10)
        figures.append(
            (
                "Reconstructions",
                "samples of the data (top) and their reconstructions (bottom)",
                lambda: plot.reconstructions(X[picks], estimator.reconstruct(X[picks]), n=12),
            )
        )
    if X is not None and signals is not None and hasattr(estimator, "reconstruct"):
        shown_signals = _picks(y, len(X), N_SIGNALS)
        titles = [
            f"sample {_name(names, int(i))}" + ("" if y is None else f" · label {y[i]}")
            for i in shown_signals
        ]
        figures.append(
            (
                "Reconstructions",
                "samples of the data (solid) and their reconstructions (dashed), one per panel",
                lambda: plot.signal_reconstructions(
                    signals[shown_signals],
                    _as_signals(estimator, estimator.reconstruct(X[shown_signals])),
                    n=len(shown_signals),
                    titles=titles,
                ),
            )
        )
    if hasattr(estimator, "interpolate") and X is not None and image_shape is not None:
        a, b = 0, 1
        if y is not None:
            different = np.flatnonzero(y != y[0])
            b = int(different[0]) if len(different) else 1
        figures.append(
            (
                "Interpolation",
                "decoded along the line between the codes of samples "
                f"{_name(names, a)} and {_name(names, b)}",
                lambda: plot.interpolation(estimator.interpolate(X[a], X[b], steps=10)),
            )
        )
    if image_shape is not None and not _is_detector(estimator):

        def features() -> Any:
            try:
                return plot.features(estimator, n=64)
            except ValueError:  # a first layer with no weights to show as images
                return None

        figures.append(
            (
                "Learned features",
                "first-layer weights, one tile per unit, each on its own scale",
                features,
            )
        )
    if _is_detector(estimator):
        truth = y if _binary(y) else None
        figures.append(
            (
                "Anomaly scores",
                "scores of the data, the threshold from contamination"
                + ("; right: ROC curve against the labels" if truth is not None else ""),
                lambda: (
                    plot.anomaly_scores(estimator)
                    if scores is None
                    else plot.anomaly_scores(scores, labels=truth, threshold=estimator.threshold_)
                ),
            )
        )
    if scores is not None and getattr(estimator, "window", None):
        steps = y if _binary(y) else None
        figures.append(
            (
                "Scores over time",
                "the series (top) and its per-step scores with the threshold"
                + ("; shaded: the labelled anomalies" if steps is not None else ""),
                lambda: plot.anomaly_timeline(
                    scores, series=X, labels=steps, threshold=estimator.threshold_
                ),
            )
        )
    if payload is not None and shown is not None and X is not None and not _is_table(estimator):
        items = _map_items(estimator, X)[shown]
        k = min(6, payload["k"])
        queries = np.arange(min(N_QUERIES, len(shown)))
        ids = np.asarray(payload["neighbours"]).reshape(len(shown), -1)[queries, :k]
        distances = np.asarray(payload["distances"]).reshape(len(shown), -1)[queries, :k]
        item_labels = None if payload["labels"] is None else np.asarray(payload["labels"])
        figures.append(
            (
                "Similar items",
                "nearest neighbours in the code space, nearest first"
                + ("" if item_labels is None else " (red frame: another label)"),
                lambda: plot.neighbors(
                    items[queries],
                    items,
                    ids,
                    distances,
                    None if item_labels is None else item_labels[queries],
                    item_labels,
                    as_images=image_shape is not None,
                ),
            )
        )
    drawn = [(title, caption, make()) for title, caption, make in figures]
    return [(title, caption, fig) for title, caption, fig in drawn if fig is not None]


def _differences(
    query: np.ndarray, item: np.ndarray, spread: np.ndarray, feature_names: np.ndarray | None
) -> str:
    """The features where ``item`` differs most from ``query``, in units of ``spread`` (the
    data's standard deviation of each feature: raw differences of features in different
    units cannot be ranked)."""
    z = (item - query) / spread
    order = [j for j in np.argsort(-np.abs(z), kind="stable")[:N_DIFFERING] if z[j] != 0]
    if not order:
        return "the same values"
    return "; ".join(
        f"{feature_names[j] if feature_names is not None else f'x[{j}]'} "
        f"{_num(float(query[j]))} → {_num(float(item[j]))} ({z[j]:+.1f} sd)"
        for j in order
    )


def _similar_rows_section(
    X: np.ndarray,
    y: np.ndarray | None,
    shown: np.ndarray,
    payload: dict[str, Any],
    names: np.ndarray | None,
    feature_names: np.ndarray | None,
) -> str:
    """Similar items of a table: for the first rows on the map, their nearest rows in the
    code space, named by id, with the features that differ most from the query."""
    rows = X.reshape(len(X), -1).astype(np.float64)
    spread = rows.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)  # a constant feature never differs
    k_all = int(payload["k"])
    k = min(N_NEIGHBOURS_SHOWN, k_all)
    labelled = y is not None
    head = f"<th>{'id' if names is not None else 'row'}</th><th>distance</th>"
    head += "<th>label</th>" if labelled else ""
    head += "<th>features that differ most from the query</th>"
    body = []
    n_queries = min(N_QUERIES, len(shown))
    for q in range(n_queries):
        query = int(shown[q])
        title = f"query {_name(names, query)}" + (f" · label {y[query]}" if labelled else "")
        body.append(f'<tr class="query"><th colspan="{3 + labelled}">{_esc(title)}</th></tr>')
        for r in range(k):
            item = int(shown[payload["neighbours"][q * k_all + r]])
            other = labelled and y[item] != y[query]
            cells = [
                f"<td>{_esc(_name(names, item))}</td>",
                f'<td class="num">{_esc(payload["distances"][q * k_all + r])}</td>',
            ]
            if labelled:
                cells.append(f"<td>{_esc(y[item])}</td>")
            differences = _differences(rows[query], rows[item], spread, feature_names)
            cells.append(f"<td>{_esc(differences)}</td>")
            row_class = ' class="other"' if other else ""
            body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    note = (
        f"The {k} nearest rows of each of the first {n_queries} rows on the map, nearest first, "
        "by distance in the code space; beside each, the features where it differs most from "
        "its query, in standard deviations of the data (sd)"
        + ("; red: another label than the query's." if labelled else ".")
    )
    return (
        f'<section id="similar"><h2>Similar items</h2><p class="note">{_esc(note)}</p>'
        f'<div class="table-wrap"><table class="grid"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _ids(ids: Any, n_samples: int) -> np.ndarray | None:
    """The ids as text, one per sample, checked; None without ids."""
    if ids is None:
        return None
    values = np.asarray(ids)
    if values.ndim != 1 or len(values) != n_samples:
        raise ValueError(
            f"ids must hold one id per sample of X ({n_samples}), got shape {values.shape}"
        )
    return _printable(np.array([str(v) for v in values.tolist()], dtype=object))


def _feature_names(estimator: Any, X: Any, given: Any) -> np.ndarray | None:
    """Names of the features of a table: those given, else the estimator's
    ``feature_names_in_`` (fitted on a DataFrame), else the columns of a DataFrame X; None
    for other samples (an image's pixels, a series' steps), which are not named."""
    fitted, columns = getattr(estimator, "feature_names_in_", None), getattr(X, "columns", None)
    if fitted is not None and columns is not None and list(columns) != list(fitted):
        pairs = itertools.zip_longest(map(str, columns), map(str, fitted), fillvalue=None)
        at, (got, want) = next((i, p) for i, p in enumerate(pairs) if p[0] != p[1])
        raise ValueError(
            f"X's columns are not the {len(fitted)} the model was fitted on, in that order: "
            f"column {at} is {got!r} where the model has {want!r}"
        )
    if not _is_table(estimator):
        return None
    names = given
    if names is None:
        names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = getattr(X, "columns", None)
    if names is None:
        return None
    values = np.asarray(names)
    n_features = int(np.prod(estimator.input_shape_))
    if values.ndim != 1 or len(values) != n_features:
        raise ValueError(
            f"feature_names must hold one name per feature ({n_features}), got shape {values.shape}"
        )
    return _printable(np.array([str(v) for v in values.tolist()], dtype=object))


def _map_items(estimator: Any, X: np.ndarray) -> np.ndarray:
    """The items the codes stand for: the samples, or a series' windows."""
    window = getattr(estimator, "window", None)
    if window:
        from aekit.datasets import sliding_windows

        windows = sliding_windows(np.asarray(X), int(window), 1)
        return windows.reshape(len(windows), -1)
    return X


def _map_section(
    estimator: Any,
    X: np.ndarray,
    y: np.ndarray | None,
    codes: np.ndarray,
    scores: np.ndarray | None,
    max_points: int,
    projection: str,
    names: np.ndarray | None,
    seed: int,
) -> tuple[str, dict[str, Any], np.ndarray]:
    items_all = _map_items(estimator, X)
    n = len(codes)
    rng = np.random.default_rng(seed)
    shown = np.arange(n) if n <= max_points else np.sort(rng.choice(n, max_points, replace=False))
    items = items_all[shown]
    window = getattr(estimator, "window", None)
    labels = None if y is None or window else np.asarray(y)[shown]
    recon, values, value_name = None, None, ""
    if hasattr(estimator, "reconstruct"):
        recon = estimator.reconstruct(items)
        values = estimator.reconstruction_error(items)
        value_name = "reconstruction error"
    elif scores is not None:
        values = scores[int(window) - 1 :][shown] if window else scores[shown]
        value_name = "anomaly score"
        if labels is None:  # the score becomes the colour, and is shown once
            labels, values = values.astype(np.float64), None
    payload = map_payload(
        codes[shown],
        items,
        recon,
        labels,
        values,
        value_name,
        shown,
        _image_shape(estimator) if not window else None,
        projection,
        seed,
        # A window is named by its first step, which is row `shown` of the series.
        names=None if names is None else [str(v) for v in names[shown]],
    )
    # Swatches are SVG (a fill attribute is not a style), so the policy can refuse every
    # inline style attribute.
    legend = "".join(
        '<span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">'
        f'<circle cx="5" cy="5" r="5" fill="{_esc(colour)}"/></svg>{_esc(text)}</span>'
        for text, colour in payload["legend"]
    )
    what = "windows" if window else "samples"
    count = f"{len(shown):,} of the {n:,} {what}" if len(shown) < n else f"all {n:,} {what}"
    axes = payload["axes"]
    projected = (
        "the codes themselves"
        if axes[0] == "z1"
        else f"a {projection.upper()} projection of the {codes.shape[1]}-D codes"
    )
    body = f"""<section id="latent-map"><h2>Latent map</h2>
<p class="note">{_esc(count)}, placed by {_esc(projected)}. Hover or tap a point to see the item;
click it for its nearest neighbours in the full code space.</p>
<div class="map-layout"><div class="map-box">
<svg id="map" viewBox="0 0 {payload["size"]:g} {payload["size"]:g}" role="img"
 aria-label="latent map"></svg>
<p class="axes">x: {_esc(axes[0])}{", y: " + _esc(axes[1]) if axes[1] else ""}</p>
<div class="legend">{legend}</div></div>
<aside id="preview" class="preview" hidden><h3 id="preview-title"></h3>
<div class="pair"><figure><canvas id="preview-item" width="240" height="120"></canvas>
<figcaption>the item</figcaption></figure>
<figure id="preview-recon-figure"><canvas id="preview-recon" width="112" height="112"></canvas>
<figcaption>its reconstruction</figcaption></figure></div>
<p id="preview-values" class="note"></p></aside></div>
<div id="neighbours" hidden><h3 id="neighbours-title"></h3>
<div id="neighbours-list" class="strip"></div></div></section>"""
    return body, payload, shown


# ---------------------------------------------------------------------------------- build
def build_report(
    estimator: Any,
    X: Any = None,
    y: Any = None,
    *,
    title: str | None = None,
    data_name: str | None = None,
    path: str | Path | None = None,
    max_points: int = 2000,
    projection: str = "pca",
    random_state: int = 0,
    ids: Any = None,
    feature_names: Any = None,
) -> str:
    """The HTML of a report on a fitted estimator, as a string; see :func:`write_report`."""
    with warnings.catch_warnings():
        # The page is built from arrays (sliced, reshaped), which carry no column names, so
        # scikit-learn would warn at every call of a model fitted on a DataFrame; a
        # DataFrame's names are checked once, in _feature_names.
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        return _build(
            estimator,
            X,
            y,
            title=title,
            data_name=data_name,
            path=path,
            max_points=max_points,
            projection=projection,
            random_state=random_state,
            ids=ids,
            feature_names=feature_names,
        )


def _build(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    title: str | None,
    data_name: str | None,
    path: str | Path | None,
    max_points: int,
    projection: str,
    random_state: int,
    ids: Any,
    feature_names: Any,
) -> str:
    check_is_fitted(estimator, "module_")
    columns = _feature_names(estimator, X, feature_names)
    if not (isinstance(max_points, (int, np.integer)) and max_points >= 2):
        raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
    from aekit.plot.latent import PROJECTIONS

    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {sorted(PROJECTIONS)}, got {projection!r}")
    name = type(estimator).__name__
    title = title or f"{name} report"
    sections = [_model_section(estimator, Path(path) if path is not None else None)]
    payload, shown, codes, scores = None, None, None, None
    data = None
    labels = None
    if X is not None:
        data = np.asarray(X)
        if y is not None:
            labels = _printable(np.asarray(y).reshape(-1))
            expected = len(data)
            if labels.shape != (expected,):
                raise ValueError(f"y holds {labels.size} labels for {expected} samples")
        names = _ids(ids, len(data))
        if hasattr(estimator, "transform"):
            codes = np.asarray(estimator.transform(data))
        if _is_detector(estimator):
            scores = estimator.decision_function(data)
        metrics, notes = _metrics(estimator, data, labels, codes, scores, random_state)
        window = getattr(estimator, "window", None)
        sections.append(_data_section(data, labels, data_name, window))
        sections.append(
            f'<section id="metrics"><h2>Metrics</h2>{_table(metrics)}'
            + "".join(f'<p class="note">{_esc(note)}</p>' for note in notes)
            + "</section>"
            if metrics
            else ""
        )
        if codes is not None and codes.ndim == 2 and len(codes) >= 3:
            body, payload, shown = _map_section(
                estimator,
                data,
                labels,
                codes,
                scores,
                int(max_points),
                projection,
                names,
                random_state,
            )
            sections.append(body)
            if _is_table(estimator):
                sections.append(_similar_rows_section(data, labels, shown, payload, names, columns))
    else:
        if ids is not None:
            raise ValueError("ids name the rows of X: pass X as well")
        names = None
        sections.append(
            '<section id="data"><h2>Data</h2><p class="note">No data given: pass data '
            "(<code>aekit report MODEL --data DATA</code>) for the metrics, the reconstructions "
            "and the interactive latent map.</p></section>"
        )
    figures = _figures(estimator, data, labels, scores, shown, payload, names, random_state)
    cells = "".join(
        f'<figure><h3>{_esc(t)}</h3><img alt="{_esc(t)}" src="data:image/png;base64,{_png(f)}">'
        f"<figcaption>{_esc(c)}</figcaption></figure>"
        for t, c, f in figures
    )
    if cells:
        sections.append(
            f'<section id="figures"><h2>Figures</h2><div class="figures">{cells}</div></section>'
        )
    nav = "".join(
        f'<a href="#{anchor}">{text}</a>'
        for anchor, text in (
            ("model", "Model"),
            ("data", "Data"),
            ("metrics", "Metrics"),
            ("latent-map", "Latent map"),
            ("similar", "Similar items"),
            ("figures", "Figures"),
        )
        if f'id="{anchor}"' in "".join(sections)
    )
    script, code = "", []
    if payload is not None:
        code = [_asset("latent_map.js")]
        # A data block (type application/json) is never run, so the policy needs no hash of it.
        script = (
            f'<script id="map-data" type="application/json">{json_for_html(payload)}</script>'
            f"<script>{code[0]}</script>"
        )
    style = _asset("report.css")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_csp(code, [style])}">
<link rel="icon" href="data:,">
<title>{_esc(title)}</title><style>{style}</style></head>
<body><header><h1>{_esc(title)}</h1>
<p class="subtitle">aekit {_esc(aekit.__version__)} · {_esc(when)}</p><nav>{nav}</nav></header>
<main>{"".join(sections)}</main>
<footer>Self-contained: every image and script is inside this file; it loads nothing.</footer>
{script}</body></html>
"""


def write_report(
    model: Any,
    out: str | Path | None = None,
    X: Any = None,
    y: Any = None,
    **options: Any,
) -> Path:
    """Write a self-contained HTML report of a fitted model and return its path.

    The report shows the model's configuration and size, a summary of the data, metrics
    (reconstruction error beside PCA with as many components as the code has, fitted to
    the same data, see :func:`aekit.report.baseline.pca_baseline`; the VAE's ELBO,
    accuracy, or the detector's threshold and ROC-AUC), every plot that applies (training
    curves, reconstructions of images or of 1-D signals, learned features, VAE samples and
    interpolation, anomaly scores, similar items) and an interactive latent map: hovering a
    point shows its item, clicking it lists its nearest neighbours. For a table (rows of
    plain features, read by a dense network) the similar items are a table: the nearest rows
    of a few rows, by id, with the features where each differs most from its query.
    Images, style and script are inlined and a content security policy forbids loading
    anything, so the file opens anywhere, offline, and can be mailed as it is.

    Parameters
    ----------
    model : fitted estimator, or str or Path
        An estimator, or a saved model directory (loaded with :func:`aekit.load`).
    out : str or Path, optional
        The HTML file; by default ``report.html`` inside the model directory (or in the
        working directory for an estimator). Written atomically; a directory, or a path
        inside the model directory other than its ``report.html``, is refused before any
        work (see :func:`check_report_output`).
    X : array, optional
        Data for the metrics, reconstructions and the latent map (the training data, or new
        data of the same shape). Without it the report shows the model alone.
    y : array of shape (n_samples,), optional
        Labels of X: the map's colours; for a detector, 0/1 labels give the ROC curve.
    **options
        ``title``, ``data_name`` (where X came from), ``path`` (the model's directory, when
        ``model`` is an estimator loaded from it), ``max_points`` (points on the map,
        a random subset beyond; default 2000), ``projection`` (``"pca"`` or ``"tsne"`` for
        codes wider than 2), ``random_state`` (default 0), ``ids`` (one id per sample of X,
        shown instead of its row position ``#12``; a series' windows are named by their
        first step) and ``feature_names`` (one per feature of a table; by default the
        estimator's ``feature_names_in_``, then a DataFrame's columns, else ``x[j]``).

    Returns
    -------
    Path
        The report file.

    Examples
    --------
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.report import write_report
    >>> X, y = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=5, random_state=0, verbose=False).fit(X)
    >>> write_report(ae, "digits-report.html", X, y)  # doctest: +SKIP
    PosixPath('digits-report.html')
    """
    path = options.pop("path", None)
    if isinstance(model, (str, Path)):
        path = model
    path = None if path is None else Path(path)
    default = (path / "report.html") if path is not None else Path("report.html")
    out = check_report_output(out if out is not None else default, path)
    if isinstance(model, (str, Path)):
        model = aekit.load(path)
    page = build_report(model, X, y, path=path, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out, "wb") as f:
        f.write(page.encode("utf-8"))
    return out


def check_report_output(out: str | Path, model_path: str | Path | None = None) -> Path:
    """Refuse ``out`` as the report's file, before any work, when writing it would go wrong.

    Refused (``ValueError``): an existing directory or anything else that is not a regular
    file, a path whose nearest existing parent is not a writable directory, and a path that
    lies inside the model directory ``model_path`` (links followed), where it could replace
    a file of the model; the model's own ``report.html``, the default, is the one exception.

    Parameters
    ----------
    out : str or Path
        The HTML file to write.
    model_path : str or Path, optional
        The saved model directory the report describes.

    Returns
    -------
    Path
        ``out`` as a Path.
    """
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"{out} is a directory; name the report's file, as {out / 'report.html'}")
    if out.exists() and not out.is_file():
        raise ValueError(f"{out} exists and is not a regular file; not replacing it")
    if model_path is not None:
        model = Path(model_path).resolve()
        target = out.resolve()
        if (target == model or model in target.parents) and target != model / "report.html":
            raise ValueError(
                f"{out} lies inside the model directory {model_path}; write the report "
                f"outside it, or to {Path(model_path) / 'report.html'}"
            )
    check_writable_parent(out)
    return out

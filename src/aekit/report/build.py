"""Build the report: a context computed once, then sections taken from registries.

How a page is built
-------------------
:func:`build_report` checks its arguments and makes one :class:`ReportContext`: the
estimator and what it declares (``capabilities``, ``image_shape()``, ``loss_name()``), the
data (X, labels, ids, feature names) and the options. What costs a pass through the network
or a search (the codes, anomaly scores, reconstructions, metrics, the latent map and its
nearest neighbours) is a cached property of the context: computed when a section first asks
for it, at most once per page, and shared by every section that shows it.

The page is the sections of :data:`SECTIONS`, in order. A :class:`Section` has

- ``anchor``: the ``id`` of its ``<section>`` element and the target of its link in the
  navigation bar (two sections may share one when at most one of them applies);
- ``nav``: the text of that link;
- ``applies(ctx) -> bool``: whether the page has the section; it may read the context's
  cached quantities (whichever section asks first computes them);
- ``render(ctx) -> str``: the whole ``<section id="{anchor}">`` element; an empty string
  drops the section after all (the figures, when none could be drawn);
- ``script(ctx) -> (data, code)``, optional: markup placed after ``<main>`` (data blocks,
  which never run) and the inline script the section runs, whose hash the page's content
  security policy lists.

The figures section draws the plots of :data:`PLOTS` likewise (a :class:`Plot`: ``title``,
``caption(ctx)``, ``applies(ctx)``, ``draw(ctx)`` returning a matplotlib figure, or None
when there is nothing to show after all), and the metrics section lists the rows of
:data:`METRICS` (a :class:`Metric`: ``applies(ctx)``, ``rows(ctx)``, an optional ``note``).
Adding a section, plot or metric is adding one entry to its list, where it should appear.
"""

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
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.utils.validation import check_is_fitted

import aekit
from aekit._validation import is_int
from aekit.io.atomic import atomic_file, check_writable_parent
from aekit.report.baseline import DEFINITION, pca_baseline
from aekit.report.latent_map import _number, map_payload, neighbours

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
# Worst rows of a detector's data: the highest scores, and for each the features (pixels,
# steps of the window) with the largest shares of its score.
N_WORST = 10
N_EXPLAINING = 3


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

    Examples
    --------
    >>> json_for_html({"label": "</script>"})
    '{"label":"\\\\u003c/script\\\\u003e"}'
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


def _conv_signal(estimator: Any, shape: tuple[int, ...]) -> tuple[int, int, bool] | None:
    from aekit.estimators import conv_shape

    try:
        net = conv_shape(shape, getattr(estimator, "spatial_dims", None))
    except ValueError:
        return None
    return (net[0], net[1], False) if len(net) == 2 else None


def _recurrent_signal(estimator: Any, shape: tuple[int, ...]) -> tuple[int, int, bool] | None:
    from aekit.estimators import recurrent_shape

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


def _signal_layout(estimator: Any, window: int | None) -> tuple[int, int, bool] | None:
    """(channels, length, time_major) when the network reads its samples as 1-D signals: a
    convolution over one axis (``(L,)``, or ``(C, L)`` with ``spatial_dims=1``) or a
    recurrent network (``(T,)`` or ``(T, F)``); None otherwise, and for a detector's series
    (its windows have a figure of their own)."""
    reader = _SIGNAL_READERS.get(getattr(estimator, "architecture", None))
    if reader is None or window:
        return None
    return reader(estimator, tuple(estimator.input_shape_))


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


# -------------------------------------------------------------------------------- context
class LatentMap(NamedTuple):
    """The map's points and what the page shows of them, computed once."""

    shown: np.ndarray  # (n,) rows of the codes on the map, sorted
    items: np.ndarray  # (n, ...) the items they stand for: samples, or a series' windows
    label_text: list[str] | None  # their class labels as the page writes them, or None
    neighbours: np.ndarray  # (n, k) each point's nearest others, as positions in `shown`
    distances: np.ndarray  # (n, k) their distances in the code space
    payload: dict[str, Any]  # what the map's script draws (see map_payload)


class Metrics(NamedTuple):
    """The metrics table's rows, and the notes said under it."""

    rows: list[tuple[str, str]]
    notes: list[str]


@dataclass(frozen=True)
class ReportContext:
    """Everything a section reads, for one page (see the module docstring).

    The fields are checked by :func:`build_report`; the cached properties compute, on first
    use and once, what costs a pass through the network.
    """

    estimator: Any
    X: np.ndarray | None  # the data as given: samples, or a detector's series
    y: np.ndarray | None  # one label per sample (per step of a series), printable
    ids: np.ndarray | None  # one name per row of X, as text; None: rows are named "#12"
    feature_names: np.ndarray | None  # a table's features, as text; None: x[j]
    data_name: str | None
    path: Path | None  # the saved model's directory
    max_points: int
    projection: str
    seed: int
    capabilities: frozenset[str]  # the estimator's declared capabilities
    image_shape: tuple[int, int] | None  # (h, w) of one-channel image samples
    window: int | None  # a detector's series: the window its codes and scores stand for
    signal_layout: tuple[int, int, bool] | None  # see _signal_layout
    is_table: bool  # samples are rows of plain features, read in no order (a dense network)

    def can(self, capability: str) -> bool:
        """Whether the estimator declares ``capability`` (see ``TorchEstimator.capabilities``)."""
        return capability in self.capabilities

    @cached_property
    def codes(self) -> np.ndarray | None:
        """The code of every sample (of every window of a series), or None."""
        if self.X is None or not self.can("encode"):
            return None
        return np.asarray(self.estimator.transform(self.X))

    @cached_property
    def scores(self) -> np.ndarray | None:
        """A detector's anomaly score of every sample (every step of a series), or None."""
        if self.X is None or not self.can("score"):
            return None
        return np.asarray(self.estimator.decision_function(self.X))

    @property
    def has_reconstructions(self) -> bool:
        """Whether there are samples and a model that reconstructs them."""
        return self.X is not None and self.can("reconstruct")

    @cached_property
    def _reconstructed(self) -> dict[int, np.ndarray]:
        return {}

    def reconstructed(self, rows: np.ndarray) -> np.ndarray:
        """The reconstructions of the samples ``rows``, each computed once for the page.

        The first call computes the metrics' rows (all of X up to MAX_METRIC_SAMPLES) with the
        asked ones in one pass; a later call computes only the rows not seen yet (the map's,
        the figures'), so a large X is never reconstructed whole. Inference is
        batch-independent, so the pieces are the bits one pass would give.
        """
        assert self.X is not None
        cache = self._reconstructed
        rows = np.asarray(rows, dtype=np.int64)
        wanted = rows if cache else np.union1d(rows, self.metric_rows)
        missing = np.setdiff1d(wanted, np.fromiter(cache, dtype=np.int64, count=len(cache)))
        if missing.size:
            out = np.asarray(self.estimator.reconstruct(self.X[missing]))
            cache.update(zip(missing.tolist(), out, strict=True))
        return np.stack([cache[r] for r in rows.tolist()]) if len(rows) else self.X[:0]

    @property
    def metric_rows(self) -> np.ndarray:
        """The rows the metrics measure (all of X, or :attr:`metric_sample`)."""
        assert self.X is not None
        return np.arange(len(self.X)) if self.metric_sample is None else self.metric_sample

    @cached_property
    def metric_sample(self) -> np.ndarray | None:
        """The rows the metrics measure: a random :data:`MAX_METRIC_SAMPLES` of a larger X,
        else None (all of them). A detector's scores are of all of X (a series cannot be
        subsampled)."""
        if self.X is None or self.can("score") or len(self.X) <= MAX_METRIC_SAMPLES:
            return None
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(len(self.X), MAX_METRIC_SAMPLES, replace=False))

    def measured(self, values: np.ndarray | None) -> np.ndarray | None:
        """``values`` (one per row of X) of the rows the metrics measure."""
        return (
            values if values is None or self.metric_sample is None else values[self.metric_sample]
        )

    @cached_property
    def metrics(self) -> Metrics:
        """The rows of every metric of :data:`METRICS` that applies, and their notes."""
        rows: list[tuple[str, str]] = []
        notes: list[str] = []
        if self.X is None:
            return Metrics(rows, notes)
        for metric in METRICS:
            if metric.applies(self):
                rows.extend(metric.rows(self))
                if metric.note:
                    notes.append(metric.note)
        return Metrics(rows, notes)

    def as_signals(self, values: np.ndarray) -> np.ndarray:
        """Samples as 1-D signals ``(n, channels, length)`` (needs :attr:`signal_layout`)."""
        assert self.signal_layout is not None
        channels, length, time_major = self.signal_layout
        if time_major:
            return values.reshape(len(values), length, channels).transpose(0, 2, 1)
        return values.reshape(len(values), channels, length)

    @cached_property
    def latent_map(self) -> LatentMap | None:
        """The map of the codes (a random ``max_points`` of them beyond), or None without
        codes (no data, or a model that does not encode) or with fewer than 3."""
        codes = self.codes
        if codes is None or codes.ndim != 2 or len(codes) < 3:
            return None
        n = len(codes)
        rng = np.random.default_rng(self.seed)
        if n <= self.max_points:
            shown = np.arange(n)
        else:
            shown = np.sort(rng.choice(n, self.max_points, replace=False))
        assert self.X is not None
        if self.window:
            from aekit.datasets import sliding_windows

            windows = sliding_windows(self.X, int(self.window), 1)
            items = windows.reshape(len(windows), -1)[shown]
        else:
            items = self.X[shown]
        labels = None if self.y is None or self.window else self.y[shown]
        recon, values, value_name = None, None, ""
        if self.has_reconstructions:
            recon = self.reconstructed(shown)
            values = self.estimator.reconstruction_error(items)
            value_name = "reconstruction error"
        elif self.scores is not None:
            values = (
                self.scores[int(self.window) - 1 :][shown] if self.window else self.scores[shown]
            )
            value_name = "anomaly score"
            if labels is None:  # the score becomes the colour, and is shown once
                labels, values = values.astype(np.float64), None
        nearest = neighbours(np.asarray(codes[shown], dtype=np.float64))
        payload = map_payload(
            codes[shown],
            items,
            recon,
            labels,
            values,
            value_name,
            shown,
            self.image_shape,
            self.projection,
            self.seed,
            # A window is named by its first step, which is row `shown` of the series.
            names=None if self.ids is None else [str(v) for v in self.ids[shown]],
            nearest=nearest,
        )
        return LatentMap(shown, items, payload["labels"], *nearest, payload)


# -------------------------------------------------------------------------------- metrics
class Metric(NamedTuple):
    """Rows of the metrics table (see the module docstring)."""

    applies: Callable[[ReportContext], bool]
    rows: Callable[[ReportContext], list[tuple[str, str]]]
    note: str | None = None  # said under the table when the rows are shown


def _detection_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    threshold = ctx.estimator.threshold_
    scores, y = ctx.scores, ctx.y
    assert scores is not None
    rows = [
        ("threshold", _num(float(threshold))),
        ("flagged as outliers", f"{float((scores > threshold).mean()):.2%}"),
    ]
    if _binary(y) and len(y) == len(scores):
        from sklearn.metrics import roc_auc_score

        from aekit.plot.anomaly import displayable_scores

        auc = roc_auc_score(y, displayable_scores(scores)[0])  # +inf ranks first, as it is
        rows.append(("ROC-AUC against the labels", f"{auc:.4f}"))
    return rows


def _sample_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    assert ctx.metric_sample is not None
    return [("samples", f"a random {len(ctx.metric_sample):,} of the data")]


def _pca_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    assert ctx.codes is not None
    # The demo's console line comes from the same function on the same data.
    baseline = pca_baseline(
        ctx.estimator,
        ctx.measured(ctx.X),
        ctx.codes.shape[1],
        ctx.seed,
        reconstructions=ctx.reconstructed(ctx.metric_rows) if ctx.has_reconstructions else None,
    )
    ratio = f" ({baseline.ratio:.2f}x the model's)" if baseline.error > 0 else ""
    return [
        ("reconstruction error (squared error per sample)", _num(baseline.error)),
        (
            f"PCA with {baseline.n_components} components, fitted to these data",
            _num(baseline.pca_error) + ratio,
        ),
    ]


def _elbo_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    elbo = float(np.mean(ctx.estimator.elbo(ctx.measured(ctx.X), random_state=ctx.seed)))
    return [("ELBO (nats per sample, one-sample estimate)", _num(elbo))]


def _accuracy_rows(ctx: ReportContext) -> list[tuple[str, str]]:
    try:
        return [
            ("accuracy", f"{ctx.estimator.score(ctx.measured(ctx.X), ctx.measured(ctx.y)):.4f}")
        ]
    except ValueError as exc:
        return [("accuracy", f"not computed: {exc}")]


# The metrics table, in order (only computed with data).
METRICS: list[Metric] = [
    Metric(lambda ctx: ctx.can("score"), _detection_rows),
    Metric(lambda ctx: ctx.metric_sample is not None, _sample_rows),
    Metric(
        lambda ctx: ctx.can("reconstruct") and ctx.codes is not None,
        _pca_rows,
        f"Reconstruction error: {DEFINITION}.",
    ),
    Metric(lambda ctx: ctx.can("likelihood"), _elbo_rows),
    Metric(lambda ctx: ctx.can("classify") and ctx.y is not None, _accuracy_rows),
]


# ---------------------------------------------------------------------------------- plots
class Plot(NamedTuple):
    """One figure of the figures section (see the module docstring)."""

    title: str
    caption: Callable[[ReportContext], str]
    applies: Callable[[ReportContext], bool]
    draw: Callable[[ReportContext], Any]  # a matplotlib figure, or None


def _plot() -> Any:
    from aekit import plot

    return plot


def _image_strip(ctx: ReportContext) -> Any:
    assert ctx.X is not None
    picks = _picks(ctx.y, len(ctx.X), 12 if ctx.y is not None else 10)
    return _plot().reconstructions(ctx.X[picks], ctx.reconstructed(picks), n=12)


def _signal_panels(ctx: ReportContext) -> Any:
    assert ctx.X is not None
    y = ctx.y
    picks = _picks(y, len(ctx.X), N_SIGNALS)
    titles = [
        f"sample {_name(ctx.ids, int(i))}" + ("" if y is None else f" · label {y[i]}")
        for i in picks
    ]
    return _plot().signal_reconstructions(
        ctx.as_signals(ctx.X[picks]),
        ctx.as_signals(ctx.reconstructed(picks)),
        n=len(picks),
        titles=titles,
    )


def _interpolation_ends(ctx: ReportContext) -> tuple[int, int]:
    """Sample 0 and the first sample of another label (else sample 1)."""
    if ctx.y is None:
        return 0, 1
    different = np.flatnonzero(ctx.y != ctx.y[0])
    return 0, int(different[0]) if len(different) else 1


def _interpolation(ctx: ReportContext) -> Any:
    assert ctx.X is not None
    a, b = _interpolation_ends(ctx)
    return _plot().interpolation(ctx.estimator.interpolate(ctx.X[a], ctx.X[b], steps=10))


def _features(ctx: ReportContext) -> Any:
    try:
        return _plot().features(ctx.estimator, n=64)
    except ValueError:  # a first layer with no weights to show as images
        return None


def _anomaly_scores(ctx: ReportContext) -> Any:
    if ctx.scores is None:  # no data: the scores of the training data
        return _plot().anomaly_scores(ctx.estimator)
    truth = ctx.y if _binary(ctx.y) else None
    return _plot().anomaly_scores(ctx.scores, labels=truth, threshold=ctx.estimator.threshold_)


def _timeline(ctx: ReportContext) -> Any:
    steps = ctx.y if _binary(ctx.y) else None
    return _plot().anomaly_timeline(
        ctx.scores, series=ctx.X, labels=steps, threshold=ctx.estimator.threshold_
    )


def _similar_figure(ctx: ReportContext) -> Any:
    found = ctx.latent_map
    assert found is not None
    k = min(6, found.neighbours.shape[1])
    queries = np.arange(min(N_QUERIES, len(found.shown)))
    labels = None if found.label_text is None else np.asarray(found.label_text)
    return _plot().neighbors(
        found.items[queries],
        found.items,
        found.neighbours[queries, :k],
        found.distances[queries, :k],
        None if labels is None else labels[queries],
        labels,
        as_images=ctx.image_shape is not None,
    )


# The figures, in order.
PLOTS: list[Plot] = [
    Plot(
        "Training curves",
        lambda ctx: "every loss term per epoch; dashed: validation",
        lambda ctx: bool(getattr(ctx.estimator, "history_", None)),
        lambda ctx: _plot().training_curves(ctx.estimator),
    ),
    Plot(
        "Samples",
        lambda ctx: "new images decoded from z ~ N(0, I)",
        lambda ctx: ctx.can("generate") and ctx.image_shape is not None,
        lambda ctx: _plot().image_grid(ctx.estimator.sample(30, random_state=ctx.seed), ncols=10),
    ),
    Plot(
        "Reconstructions",
        lambda ctx: "samples of the data (top) and their reconstructions (bottom)",
        lambda ctx: ctx.has_reconstructions and ctx.image_shape is not None,
        _image_strip,
    ),
    Plot(
        "Reconstructions",
        lambda ctx: "samples of the data (solid) and their reconstructions (dashed), one per panel",
        lambda ctx: ctx.has_reconstructions and ctx.signal_layout is not None,
        _signal_panels,
    ),
    Plot(
        "Interpolation",
        lambda ctx: (
            "decoded along the line between the codes of samples "
            + " and ".join(_name(ctx.ids, i) for i in _interpolation_ends(ctx))
        ),
        lambda ctx: ctx.can("generate") and ctx.X is not None and ctx.image_shape is not None,
        _interpolation,
    ),
    Plot(
        "Learned features",
        lambda ctx: "first-layer weights, one tile per unit, each on its own scale",
        # A detector's module is an ensemble: its first layer is no one network's features.
        lambda ctx: ctx.image_shape is not None and not ctx.can("score"),
        _features,
    ),
    Plot(
        "Anomaly scores",
        lambda ctx: (
            "scores of the data, the threshold from contamination"
            + ("; right: ROC curve against the labels" if _binary(ctx.y) else "")
        ),
        lambda ctx: ctx.can("score"),
        _anomaly_scores,
    ),
    Plot(
        "Scores over time",
        lambda ctx: (
            "the series (top) and its per-step scores with the threshold"
            + ("; shaded: the labelled anomalies" if _binary(ctx.y) else "")
        ),
        lambda ctx: ctx.scores is not None and bool(ctx.window),
        _timeline,
    ),
    Plot(
        "Similar items",
        lambda ctx: (
            "nearest neighbours in the code space, nearest first"
            + (
                ""
                if ctx.latent_map is None or ctx.latent_map.label_text is None
                else " (red frame: another label)"
            )
        ),
        # A table's similar items are a section of their own.
        lambda ctx: ctx.latent_map is not None and not ctx.is_table,
        _similar_figure,
    ),
]


# ------------------------------------------------------------------------------- sections
class Section(NamedTuple):
    """One section of the page (see the module docstring).

    Examples
    --------
    A section that counts the samples, shown when data are given, after the model's:

    >>> from aekit.report import build
    >>> count = build.Section(
    ...     "count",
    ...     "Count",
    ...     lambda ctx: ctx.X is not None,
    ...     lambda ctx: f'<section id="count"><h2>Count</h2>{len(ctx.X)} samples</section>',
    ... )
    >>> build.SECTIONS.insert(1, count)  # doctest: +SKIP
    """

    anchor: str
    nav: str
    applies: Callable[[ReportContext], bool]
    render: Callable[[ReportContext], str]
    script: Callable[[ReportContext], tuple[str, str]] | None = None


def _model_section(ctx: ReportContext) -> str:
    estimator = ctx.estimator
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
    loss = estimator.loss_name()
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
    if ctx.path is not None:
        size = sum(f.stat().st_size for f in ctx.path.iterdir() if f.is_file())
        rows.append(("saved at", f"{ctx.path} ({size / 1024:,.1f} KiB on disk)"))
    params = sorted(estimator.get_params(deep=False).items())
    details = _table([(k, repr(v)) for k, v in params])
    return (
        f'<section id="model"><h2>Model</h2>{_table(rows)}'
        f"<details><summary>all parameters</summary>{details}</details></section>"
    )


def _data_section(ctx: ReportContext) -> str:
    X, y = ctx.X, ctx.y
    assert X is not None
    values = X.astype(np.float64, copy=False)
    rows: list[tuple[str, Any]] = []
    if ctx.data_name:
        rows.append(("source", ctx.data_name))
    if ctx.window:
        features = 1 if X.ndim == 1 else X.shape[1]
        rows.append(
            ("series", f"{len(X):,} steps of {features} feature(s), windows of {ctx.window}")
        )
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


def _no_data_section(ctx: ReportContext) -> str:
    return (
        '<section id="data"><h2>Data</h2><p class="note">No data given: pass data '
        "(<code>aekit report MODEL --data DATA</code>) for the metrics, the reconstructions "
        "and the interactive latent map.</p></section>"
    )


def _metrics_section(ctx: ReportContext) -> str:
    rows, notes = ctx.metrics
    return (
        f'<section id="metrics"><h2>Metrics</h2>{_table(rows)}'
        + "".join(f'<p class="note">{_esc(note)}</p>' for note in notes)
        + "</section>"
    )


def _map_section(ctx: ReportContext) -> str:
    found = ctx.latent_map
    assert found is not None and ctx.codes is not None
    payload = found.payload
    # Swatches are SVG (a fill attribute is not a style), so the policy can refuse every
    # inline style attribute.
    legend = "".join(
        '<span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">'
        f'<circle cx="5" cy="5" r="5" fill="{_esc(colour)}"/></svg>{_esc(text)}</span>'
        for text, colour in payload["legend"]
    )
    what = "windows" if ctx.window else "samples"
    n, n_shown = len(ctx.codes), len(found.shown)
    count = f"{n_shown:,} of the {n:,} {what}" if n_shown < n else f"all {n:,} {what}"
    axes = payload["axes"]
    projected = (
        "the codes themselves"
        if axes[0] == "z1"
        else f"a {ctx.projection.upper()} projection of the {ctx.codes.shape[1]}-D codes"
    )
    return f"""<section id="latent-map"><h2>Latent map</h2>
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


def _map_script(ctx: ReportContext) -> tuple[str, str]:
    assert ctx.latent_map is not None
    # A data block (type application/json) is never run, so the policy needs no hash of it.
    data = json_for_html(ctx.latent_map.payload)
    return f'<script id="map-data" type="application/json">{data}</script>', _asset("latent_map.js")


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


def _similar_rows_section(ctx: ReportContext) -> str:
    """Similar items of a table: for the first rows on the map, their nearest rows in the
    code space, named by id, with the features that differ most from the query."""
    X, y, names, found = ctx.X, ctx.y, ctx.ids, ctx.latent_map
    assert X is not None and found is not None
    rows = X.reshape(len(X), -1).astype(np.float64)
    spread = rows.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)  # a constant feature never differs
    k = min(N_NEIGHBOURS_SHOWN, found.neighbours.shape[1])
    labelled = y is not None
    head = f"<th>{'id' if names is not None else 'row'}</th><th>distance</th>"
    head += "<th>label</th>" if labelled else ""
    head += "<th>features that differ most from the query</th>"
    body = []
    n_queries = min(N_QUERIES, len(found.shown))
    for q in range(n_queries):
        query = int(found.shown[q])
        title = f"query {_name(names, query)}" + (f" · label {y[query]}" if labelled else "")
        body.append(f'<tr class="query"><th colspan="{3 + labelled}">{_esc(title)}</th></tr>')
        for r in range(k):
            item = int(found.shown[found.neighbours[q, r]])
            other = labelled and y[item] != y[query]
            cells = [
                f"<td>{_esc(_name(names, item))}</td>",
                f'<td class="num">{_esc(_number(found.distances[q, r]))}</td>',
            ]
            if labelled:
                cells.append(f"<td>{_esc(y[item])}</td>")
            differences = _differences(rows[query], rows[item], spread, ctx.feature_names)
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


class WorstRows(NamedTuple):
    """A detector's highest-scoring rows of X (steps of a series) and what explains them."""

    rows: np.ndarray  # (k,) positions in X, highest score first
    outlier: np.ndarray  # (k,) their outlier probability (predict_proba's second column)
    explained: list[str]  # per row: its leading features, pixels or steps, as text
    shares: np.ndarray | None  # (k, *sample) the rows' shares of their scores; None: a series


# What the section says of a row whose score could not be computed (+inf, no shares).
_UNSCORED = "nothing: no score (its values leave float32's range)"


def _explained_samples(ctx: ReportContext, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The leading features of each of ``rows`` (named, with its residual x - x_hat in the
    data's units) or positions of its values (``x[3, 4]``, a pixel), and their shares."""
    assert ctx.X is not None
    found = ctx.estimator.explain(ctx.X[rows])  # the worst rows only
    shares = found.shares.reshape(len(rows), -1)
    residuals = found.residuals.reshape(len(rows), -1)
    names = ctx.feature_names if ctx.feature_names is not None else found.features
    shape = found.shares.shape[1:]
    texts = []
    for i, row in enumerate(shares):
        if not np.isfinite(row).all():
            texts.append(_UNSCORED)
            continue
        best = np.argsort(-row, kind="stable")[:N_EXPLAINING]
        if names is None:
            where = (f"x[{', '.join(map(str, np.unravel_index(j, shape)))}]" for j in best)
            texts.append("; ".join(f"{w} ({row[j]:.2f})" for w, j in zip(where, best, strict=True)))
        else:
            texts.append(
                "; ".join(
                    f"{names[j]} ({row[j]:.2f}, residual {residuals[i, j]:+.2g})" for j in best
                )
            )
    return texts, found.shares


def _explained_steps(ctx: ReportContext, rows: np.ndarray) -> list[str]:
    """For each step of ``rows``, the steps of the windows behind its score with the largest
    contributions (all channels), as shares of theirs; as ``aekit detect --explain``."""
    assert ctx.X is not None and ctx.window is not None and ctx.scores is not None
    from aekit.estimators.detector import leading_steps

    found = ctx.estimator.explain(ctx.X)  # a step's windows need the series around it
    causal = bool(getattr(ctx.estimator, "causal", False))
    steps = leading_steps(found.contributions, rows, int(ctx.window), causal, N_EXPLAINING)
    texts = []
    for t, pairs in zip(rows.tolist(), steps, strict=True):
        if not np.isfinite(ctx.scores[t]):
            texts.append(_UNSCORED)
            continue
        texts.append("; ".join(f"step {step} ({share:.2f})" for step, share in pairs))
    return texts


def _worst_rows(ctx: ReportContext) -> WorstRows:
    """The :data:`N_WORST` highest-scoring rows (an unscorable one, +inf, first) and what
    explains their scores; only those rows are explained, except a series, whose steps'
    windows reach across it."""
    scores = ctx.scores
    assert scores is not None
    rows = np.argsort(-scores, kind="stable")[:N_WORST]
    # predict_proba of these rows, from the scores already computed for the page.
    outlier = ctx.estimator._probability(scores[rows])[:, 1]
    if ctx.window:
        return WorstRows(rows, outlier, _explained_steps(ctx, rows), None)
    return WorstRows(rows, outlier, *_explained_samples(ctx, rows))


def _worst_figure(ctx: ReportContext, worst: WorstRows) -> str:
    """The worst images above the heat maps of their shares, or "" for other samples."""
    if ctx.image_shape is None or worst.shares is None:
        return ""
    assert ctx.X is not None and ctx.scores is not None
    fig = _plot().explanation(
        ctx.X[worst.rows],
        worst.shares,
        scores=ctx.scores[worst.rows],
        image_shape=ctx.image_shape,
    )
    caption = (
        "the highest-scoring images, highest first (top), and each pixel's share of the "
        "image's score (bottom; each on its own scale, white its largest share)"
    )
    return (
        f'<div class="figures"><figure><img alt="worst images and their heat maps" '
        f'src="data:image/png;base64,{_png(fig)}"><figcaption>{_esc(caption)}</figcaption>'
        "</figure></div>"
    )


def _worst_section(ctx: ReportContext) -> str:
    """The highest-scoring rows with their score, outlier probability and label, and the
    features (pixels, steps) that explain their scores."""
    worst = _worst_rows(ctx)
    scores, ids, y = ctx.scores, ctx.ids, ctx.y
    assert scores is not None
    unit = "step" if ctx.window else "row"
    head = [unit, *(["id"] if ids is not None else [])]
    head += ["score", "outlier probability", *(["label"] if y is not None else [])]
    head.append("explained by (share of the score)")
    body = []
    for row, outlier, text in zip(worst.rows.tolist(), worst.outlier, worst.explained, strict=True):
        cells = [f'<td class="num">{row}</td>']
        if ids is not None:
            cells.append(f"<td>{_esc(ids[row])}</td>")
        score = float(scores[row])
        # A score far beyond the others' (a wild row) in full would be a line of digits.
        cells.append(f'<td class="num">{_num(score) if abs(score) < 1e15 else f"{score:.4g}"}</td>')
        cells.append(f'<td class="num">{float(outlier):.3f}</td>')
        if y is not None:
            cells.append(f"<td>{_esc(y[row])}</td>")
        cells.append(f"<td>{_esc(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if ctx.window:
        what = (
            f"The {len(worst.rows)} highest-scoring steps, highest first; beside each, the "
            f"{N_EXPLAINING} steps of the windows behind its score that contribute most to "
            "them, with their shares"
        )
    elif ctx.is_table:
        what = (
            f"The {len(worst.rows)} highest-scoring rows, highest first; beside each, the "
            f"{N_EXPLAINING} features with the largest shares of its score and their residuals "
            "(value minus reconstruction, in the data's units)"
        )
    else:
        what = (
            f"The {len(worst.rows)} highest-scoring samples, highest first; beside each, the "
            f"{N_EXPLAINING} values (pixels) with the largest shares of its score"
        )
    note = (
        f"{what}. The outlier probability ranks a score among the training scores (0.5 at the "
        "threshold)."
    )
    return (
        f'<section id="worst"><h2>Worst rows</h2><p class="note">{_esc(note)}</p>'
        '<div class="table-wrap"><table class="grid"><thead><tr>'
        + "".join(f"<th>{_esc(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        + _worst_figure(ctx, worst)
        + "</section>"
    )


def _figures_section(ctx: ReportContext) -> str:
    drawn = [(p.title, p.caption(ctx), p.draw(ctx)) for p in PLOTS if p.applies(ctx)]
    cells = "".join(
        f'<figure><h3>{_esc(t)}</h3><img alt="{_esc(t)}" src="data:image/png;base64,{_png(f)}">'
        f"<figcaption>{_esc(c)}</figcaption></figure>"
        for t, c, f in drawn
        if f is not None
    )
    if not cells:
        return ""
    return f'<section id="figures"><h2>Figures</h2><div class="figures">{cells}</div></section>'


# The page's sections, in order.
SECTIONS: list[Section] = [
    Section("model", "Model", lambda ctx: True, _model_section),
    Section("data", "Data", lambda ctx: ctx.X is not None, _data_section),
    Section("data", "Data", lambda ctx: ctx.X is None, _no_data_section),
    Section("metrics", "Metrics", lambda ctx: bool(ctx.metrics.rows), _metrics_section),
    Section("worst", "Worst rows", lambda ctx: ctx.scores is not None, _worst_section),
    Section(
        "latent-map",
        "Latent map",
        lambda ctx: ctx.latent_map is not None,
        _map_section,
        _map_script,
    ),
    Section(
        "similar",
        "Similar items",
        lambda ctx: ctx.is_table and ctx.latent_map is not None,
        _similar_rows_section,
    ),
    Section("figures", "Figures", lambda ctx: any(p.applies(ctx) for p in PLOTS), _figures_section),
]


# ---------------------------------------------------------------------------------- build
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


def _feature_names(estimator: Any, X: Any, given: Any, is_table: bool) -> np.ndarray | None:
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
    if not is_table:
        return None
    names = given
    if names is None:
        names = fitted
    if names is None:
        names = columns
    if names is None:
        return None
    values = np.asarray(names)
    n_features = int(np.prod(estimator.input_shape_))
    if values.ndim != 1 or len(values) != n_features:
        raise ValueError(
            f"feature_names must hold one name per feature ({n_features}), got shape {values.shape}"
        )
    return _printable(np.array([str(v) for v in values.tolist()], dtype=object))


def _context(
    estimator: Any,
    X: Any = None,
    y: Any = None,
    *,
    data_name: str | None = None,
    path: str | Path | None = None,
    max_points: int = 2000,
    projection: str = "pca",
    random_state: int = 0,
    ids: Any = None,
    feature_names: Any = None,
) -> ReportContext:
    """The checked context of a page (arguments as :func:`write_report`)."""
    check_is_fitted(estimator, "module_")
    window = getattr(estimator, "window", None) or None
    layout = _signal_layout(estimator, window)
    is_table = len(tuple(estimator.input_shape_)) == 1 and not window and layout is None
    columns = _feature_names(estimator, X, feature_names, is_table)
    if not (is_int(max_points) and max_points >= 2):
        raise ValueError(f"max_points must be an integer >= 2, got {max_points!r}")
    from aekit.plot.latent import PROJECTIONS

    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {sorted(PROJECTIONS)}, got {projection!r}")
    data, labels, names = None, None, None
    if X is not None:
        data = np.asarray(X)
        if y is not None:
            labels = _printable(np.asarray(y).reshape(-1))
            if labels.shape != (len(data),):
                raise ValueError(f"y holds {labels.size} labels for {len(data)} samples")
        names = _ids(ids, len(data))
    elif ids is not None:
        raise ValueError("ids name the rows of X: pass X as well")
    return ReportContext(
        estimator=estimator,
        X=data,
        y=labels,
        ids=names,
        feature_names=columns,
        data_name=data_name,
        path=Path(path) if path is not None else None,
        max_points=int(max_points),
        projection=projection,
        seed=random_state,
        capabilities=frozenset(estimator.capabilities),
        image_shape=estimator.image_shape(),
        window=window,
        signal_layout=layout,
        is_table=is_table,
    )


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
    """The HTML of a report on a fitted estimator, as a string; see :func:`write_report`.

    Examples
    --------
    >>> from aekit import Autoencoder
    >>> from aekit.datasets import load_digits
    >>> from aekit.report import build_report
    >>> X, y = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=2, random_state=0, verbose=False).fit(X[:200])
    >>> page = build_report(ae, X[:200], y[:200])
    >>> '<section id="latent-map">' in page
    True
    """
    with warnings.catch_warnings():
        # The page is built from arrays (sliced, reshaped), which carry no column names, so
        # scikit-learn would warn at every call of a model fitted on a DataFrame; a
        # DataFrame's names are checked once, in _feature_names.
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        ctx = _context(
            estimator,
            X,
            y,
            data_name=data_name,
            path=path,
            max_points=max_points,
            projection=projection,
            random_state=random_state,
            ids=ids,
            feature_names=feature_names,
        )
        return _page(ctx, title or f"{type(estimator).__name__} report")


def _page(ctx: ReportContext, title: str) -> str:
    """The page: every section of :data:`SECTIONS` that applies, in order."""
    bodies: list[str] = []
    nav: dict[str, str] = {}  # anchor -> link text, in page order
    scripts: list[tuple[str, str]] = []
    for section in SECTIONS:
        if not section.applies(ctx):
            continue
        body = section.render(ctx)
        if not body:
            continue
        bodies.append(body)
        nav.setdefault(section.anchor, section.nav)
        if section.script is not None:
            scripts.append(section.script(ctx))
    links = "".join(f'<a href="#{anchor}">{_esc(text)}</a>' for anchor, text in nav.items())
    code = [run for _, run in scripts]
    tail = "".join(f"{data}<script>{run}</script>" for data, run in scripts)
    style = _asset("report.css")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_csp(code, [style])}">
<link rel="icon" href="data:,">
<title>{_esc(title)}</title><style>{style}</style></head>
<body><header><h1>{_esc(title)}</h1>
<p class="subtitle">aekit {_esc(aekit.__version__)} · {_esc(when)}</p><nav>{links}</nav></header>
<main>{"".join(bodies)}</main>
<footer>Self-contained: every image and script is inside this file; it loads nothing.</footer>
{tail}</body></html>
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
    accuracy, or the detector's threshold and ROC-AUC), a detector's ten highest-scoring
    samples with what explains their scores (:meth:`aekit.AnomalyDetector.explain`: a table's
    leading features, an image's heat map, a series step's leading steps), every plot that
    applies (training curves, reconstructions of images or of 1-D signals, learned features,
    VAE samples and interpolation, anomaly scores, similar items) and an interactive latent
    map: hovering a point shows its item, clicking it lists its nearest neighbours. For a
    table (rows of plain features, read by a dense network) the similar items are a table:
    the nearest rows of a few rows, by id, with the features where each differs most from
    its query.
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

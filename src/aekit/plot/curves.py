"""Training curves: every loss term of a history against the epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aekit._optional import require
from aekit._validation import is_number
from aekit.plot._base import _figure

# Numeric keys of a history record that are not loss terms.
_NOT_LOSSES = ("epoch", "time", "layer", "n_samples")
# The total is "loss"; it is left out when one term equals it. Histories store float32
# means, and two sums of the same float32 numbers can differ in their last bits.
_TOTAL = "loss"
_SAME_AS_TOTAL = 1e-6


def _plain_log_formatter(ticker: Any, **kwargs: Any) -> Any:
    """matplotlib's choice of labelled ticks on a log axis, written as plain numbers."""

    class PlainLogFormatter(ticker.LogFormatterSciNotation):  # type: ignore[misc]
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLogFormatter(**kwargs)


def training_curves(history: Any, title: str | None = None) -> Any:
    """Every loss term of a training history against the epoch.

    Training values are solid lines and validation values (``val_`` keys) dashed lines of the
    same colour. The total ``loss`` is drawn only when penalties (sparsity, weight decay,
    KL...) add to it: when it equals one term (the reconstruction) at every epoch it would
    hide under that term's line, so it is left out and the legend's title says
    ``loss = reconstruction``. The y axis is logarithmic when every value is positive (terms
    of very different sizes, such as a reconstruction loss and a small weight penalty, then
    stay readable). With a fitted estimator, a dotted vertical line marks ``best_epoch_``, the epoch
    whose weights the model kept.

    Parameters
    ----------
    history : fitted estimator or list of dict
        An estimator's ``history_`` (or the estimator): one dict per epoch. The keys
        ``epoch``, ``time``, ``layer`` and ``n_samples`` and non-numeric values (``stage``)
        are not loss terms and are left out; ``epoch``, when it counts up, gives the x axis.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; each line is labelled with its key.

    Examples
    --------
    >>> from aekit import Autoencoder, plot
    >>> from aekit.datasets import load_digits
    >>> X, _ = load_digits()
    >>> ae = Autoencoder(latent_dim=2, epochs=3, random_state=0).fit(X)
    >>> fig = plot.training_curves(ae)
    >>> [line.get_label() for line in fig.axes[0].lines]  # no penalty: loss = reconstruction
    ['reconstruction', 'val_reconstruction', 'best epoch']
    >>> fig.axes[0].get_legend().get_title().get_text()
    'loss = reconstruction'
    """
    best_epoch = None
    if hasattr(history, "get_params"):  # an estimator
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(history, "history_")
        best_epoch = getattr(history, "best_epoch_", None)
        history = history.history_
    if isinstance(history, Mapping) or not isinstance(history, Sequence):
        raise ValueError("history must be a list of dicts (one per epoch) or a fitted estimator")
    records = list(history)
    if not records:
        raise ValueError("history is empty: there is no epoch to plot")
    if not all(isinstance(r, Mapping) for r in records):
        raise ValueError("every entry of history must be a dict of one epoch's values")
    keys: list[str] = []
    for record in records:
        for key, value in record.items():
            if key not in _NOT_LOSSES and key not in keys and is_number(value):
                keys.append(key)
    terms: list[str] = []
    for key in keys:
        term = key.removeprefix("val_")
        if term not in terms:
            terms.append(term)
    if not terms:
        raise ValueError(f"history holds no numeric loss terms; its keys are {list(records[0])}")

    def column(key: str) -> np.ndarray:
        return np.array([r[key] if is_number(r.get(key)) else np.nan for r in records], dtype=float)

    same = [
        term
        for term in terms
        if _TOTAL in terms
        and term != _TOTAL
        and all(
            np.allclose(
                column(prefix + term),
                column(prefix + _TOTAL),
                rtol=_SAME_AS_TOTAL,
                atol=0.0,
                equal_nan=True,
            )
            for prefix in ("", "val_")
        )
    ]
    if same:
        terms.remove(_TOTAL)
    epochs = [r.get("epoch") for r in records]
    if not (all(is_number(e) for e in epochs) and np.all(np.diff(epochs) > 0)):
        epochs = list(range(1, len(records) + 1))
    ticker = require("matplotlib.ticker", "plot")
    fig = _figure(6.0, 4.0)
    ax = fig.subplots()
    values = []
    for i, term in enumerate(terms):
        for key, style in ((term, "-"), (f"val_{term}", "--")):
            if key in keys:
                y = column(key)
                ax.plot(epochs, y, linestyle=style, color=f"C{i % 10}", label=key)
                values.append(y)
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    if finite.size and (finite > 0).all():
        ax.set_yscale("log")
        # Plain numbers (0.3, not 3 x 10^-1): a loss seldom spans many decades.
        ax.yaxis.set_major_formatter(_plain_log_formatter(ticker))
        ax.yaxis.set_minor_formatter(_plain_log_formatter(ticker, labelOnlyBase=False))
    if is_number(best_epoch) and best_epoch >= 1:
        ax.axvline(best_epoch, color="0.4", linestyle=":", linewidth=1, label="best epoch")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(
        fontsize="small",
        loc="best",
        title=f"{_TOTAL} = {same[0]}" if same else None,
        title_fontsize="small",
    )
    if title:
        ax.set_title(title)
    return fig

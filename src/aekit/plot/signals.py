"""Signal figures: 1-D samples (spectra, traces, sequences) and their reconstructions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aekit._validation import Integer, check_value
from aekit.plot._base import _figure, literal


def _signals(values: Any, name: str) -> np.ndarray:
    """``values`` as ``(n, channels, length)``: rows ``(n, L)`` are one-channel signals."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, None, :]
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(
            f"{name} must be signals of shape (n, L) or (n, C, L), got shape {np.shape(values)}"
        )
    return array


def signal_reconstructions(
    originals: Any,
    reconstructed: Any,
    n: int = 4,
    x: Any = None,
    titles: Sequence[str] | None = None,
    title: str | None = None,
) -> Any:
    """1-D signals with their reconstructions drawn over them, one panel per sample.

    The signal is a solid line and its reconstruction a dashed line of the same colour (one
    colour per channel), on the signal's own axis: where the two part is what the model
    did not capture. For spectra, pass the energies or wavelengths as ``x``.

    Parameters
    ----------
    originals : array of shape (n_samples, L) or (n_samples, C, L)
        The signals: rows, or C channels of L values each.
    reconstructed : array of the same shape
        Their reconstructions (``estimator.reconstruct(originals)``).
    n : int, default=4
        Show the first ``n`` samples.
    x : array of shape (L,), optional
        Position of each value (energy, wavelength, time); by default its index (and the
        x axis is labelled "index").
    titles : sequence of str, optional
        A title per sample shown (its id, its label).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per sample shown, stacked, sharing the x axis; the first holds the legend.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import plot
    >>> t = np.linspace(0, 1, 100)
    >>> spectra = np.exp(-((t - np.array([[0.3], [0.5], [0.7]])) ** 2) / 0.005)  # (3, 100)
    >>> fig = plot.signal_reconstructions(spectra, 0.9 * spectra, x=t)
    >>> len(fig.axes), [line.get_label() for line in fig.axes[0].lines]
    (3, ['signal', 'reconstruction'])
    """
    check_value("n", n, Integer(1))
    top = _signals(originals, "originals")[:n]
    bottom = _signals(reconstructed, "reconstructed")[:n]
    if top.shape != bottom.shape:
        raise ValueError(
            f"originals and reconstructions must have the same shape, got {top.shape[1:]} "
            f"and {bottom.shape[1:]} (first {n} samples: {len(top)} and {len(bottom)})"
        )
    shown, channels, length = top.shape
    positions = np.arange(length) if x is None else np.asarray(x, dtype=np.float64)
    if positions.shape != (length,):
        raise ValueError(f"x must hold one position per value ({length}), got shape {np.shape(x)}")
    if titles is not None and len(titles) < shown:
        raise ValueError(f"titles must name the {shown} samples shown, got {len(titles)}")
    fig = _figure(6.4, 1.5 * shown + (0.9 if title else 0.6))
    axes = fig.subplots(shown, 1, sharex=True, squeeze=False)[:, 0]
    for i, ax in enumerate(axes):
        for c in range(channels):
            colour = f"C{c % 10}"
            signal = "signal" if channels == 1 else f"channel {c}"
            ax.plot(positions, top[i, c], color=colour, linewidth=1.0, label=signal)
            # One legend entry says what dashed means, whatever the number of channels.
            recon_label = "reconstruction" if c == 0 else "_nolegend_"
            ax.plot(
                positions,
                bottom[i, c],
                color=colour,
                linewidth=1.0,
                linestyle="--",
                label=recon_label,
            )
        if titles is not None:
            ax.set_title(literal(titles[i]), fontsize="small", loc="left")
        ax.tick_params(labelsize="small")
    axes[0].legend(fontsize="small", loc="best")
    if x is None:  # given positions have units that only the caller knows
        axes[-1].set_xlabel("index")
    if title:
        fig.suptitle(title)
    return fig

"""The data behind the report's interactive latent map: points, colours, previews, neighbours."""

from __future__ import annotations

import base64
import math
import zlib
from typing import Any

import numpy as np

from aekit.plot.latent import is_score, project

# Nearest neighbours listed when a point is clicked (in the full code space).
N_NEIGHBOURS = 8
# Side of the map's square drawing area (SVG user units); points keep a margin inside it.
MAP_SIZE = 600.0
MAP_MARGIN = 12.0


def _hex(rgba: Any) -> str:
    r, g, b = (round(255 * float(c)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _number(value: float) -> float | str:
    """A number shown beside an item, to 4 significant digits; a non-finite one (a detector's
    score of a row it cannot score is +inf) as text, "inf" or "nan": JSON has no such numbers
    and ``JSON.parse`` would refuse the whole map."""
    value = float(value)
    return float(f"{value:.4g}") if math.isfinite(value) else str(value)


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _colours(labels: np.ndarray | None) -> tuple[list[str], list[tuple[str, str]]]:
    """A colour per point, and the legend as (text, colour) pairs."""
    import matplotlib

    if labels is None:
        return [], []
    if is_score(labels):
        cmap = matplotlib.colormaps["viridis"]
        low, high = _finite_range(labels)
        # +inf takes the top colour; NaN stays NaN, which the colour map draws as "bad".
        t = np.clip((labels - low) / max(high - low, 1e-12), 0.0, 1.0)
        colours = [_hex(cmap(float(v))) for v in t]
        return colours, [(f"score {low:.3g}", _hex(cmap(0.0))), (f"{high:.3g}", _hex(cmap(1.0)))]
    classes = np.unique(labels)
    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    palette = {cls: _hex(cmap(i % cmap.N)) for i, cls in enumerate(classes)}
    return [palette[v] for v in labels], [(str(c), palette[c]) for c in classes]


def _bytes(values: np.ndarray, low: float, high: float) -> str:
    """Rows of values as uint8 between ``low`` (0) and ``high`` (255), zlib-compressed (the
    browser inflates them with DecompressionStream("deflate")), in base64."""
    scaled = (np.clip(values, low, high) - low) / max(high - low, 1e-12)
    scaled = np.nan_to_num(scaled, nan=0.0)  # a NaN has no byte; draw it as the lowest value
    raw = np.round(255 * scaled).astype(np.uint8).tobytes()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def neighbours(codes: np.ndarray, k: int = N_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Each code's ``k`` nearest other codes (Euclidean, exact): ``(ids, distances)``, (n, k)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(codes) - 1)
    search = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(codes)
    distances, ids = search.kneighbors(codes)
    # Drop each point itself; ties with duplicates can put it second, so remove by id.
    keep = ids != np.arange(len(codes))[:, None]
    keep[keep.sum(1) > k, -1] = False
    return ids[keep].reshape(len(codes), k), distances[keep].reshape(len(codes), k)


def map_payload(
    codes: np.ndarray,
    items: np.ndarray,
    reconstructions: np.ndarray | None,
    labels: np.ndarray | None,
    values: np.ndarray | None,
    value_name: str,
    sample_ids: np.ndarray,
    image_shape: tuple[int, int] | None,
    method: str,
    random_state: int | None,
    names: list[str] | None = None,
    nearest: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Everything the map's script draws, as JSON-ready values.

    ``codes`` (n, K), ``items`` the samples shown on hover (n, ...), ``reconstructions`` of
    the same shape or None, ``labels`` (n,) classes or scores (the colours) or None,
    ``values`` (n,) a number shown with each item (its reconstruction error, its anomaly
    score) named ``value_name``, or None, ``sample_ids`` (n,) their rows in the data, and
    ``names`` (n,) what the page calls them (their ids) instead of ``#row``, or None, and
    ``nearest`` the :func:`neighbours` of ``codes`` when the caller has them already.
    Item values travel as bytes (0..255 between the smallest and largest value shown, more
    than a screen can show), zlib-compressed: images with a blank background shrink several
    times more.
    """
    points, axes = project(codes, method, random_state)
    low, high = points.min(0), points.max(0)
    span = np.where(high - low > 0, high - low, 1.0)
    xy = MAP_MARGIN + (points - low) / span * (MAP_SIZE - 2 * MAP_MARGIN)
    xy[:, 1] = MAP_SIZE - xy[:, 1]  # SVG's y axis points down
    if nearest is None:
        nearest = neighbours(np.asarray(codes, dtype=np.float64))
    ids, distances = nearest
    flat = items.reshape(len(items), -1).astype(np.float64)
    shown = (
        flat
        if reconstructions is None
        else np.concatenate([flat, reconstructions.reshape(len(items), -1)])
    )
    v_low, v_high = _finite_range(shown)
    colours, legend = _colours(labels)
    return {
        "size": MAP_SIZE,
        "axes": list(axes),
        "x": np.round(xy[:, 0], 1).tolist(),
        "y": np.round(xy[:, 1], 1).tolist(),
        "colors": colours,
        "legend": legend,
        "labels": None if labels is None or is_score(labels) else [str(v) for v in labels],
        "scores": None if labels is None or not is_score(labels) else [_number(v) for v in labels],
        "values": None if values is None else [_number(v) for v in values],
        "value_name": value_name,
        "ids": [int(i) for i in sample_ids],
        "names": names,
        "kind": "image" if image_shape is not None else "vector",
        "shape": list(image_shape) if image_shape is not None else [flat.shape[1]],
        "range": [v_low, v_high],
        "items": _bytes(flat, v_low, v_high),
        "recon": None
        if reconstructions is None
        else _bytes(reconstructions.reshape(len(items), -1), v_low, v_high),
        "k": int(ids.shape[1]),
        "neighbours": ids.ravel().tolist(),
        "distances": [_number(d) for d in distances.ravel()],
    }

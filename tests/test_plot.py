"""Figures of `aekit.plot`, drawn from real fitted models on the embedded digits."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from aekit import Autoencoder, plot
from aekit.datasets import load_digits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return load_digits()


def _fit(X: np.ndarray, latent_dim: int) -> Autoencoder:
    return Autoencoder(latent_dim=latent_dim, epochs=5, random_state=0, verbose=False).fit(X)


@pytest.fixture(scope="module")
def ae2(data) -> Autoencoder:
    return _fit(data[0], 2)


@pytest.fixture(scope="module")
def ae5(data) -> Autoencoder:
    return _fit(data[0], 5)


@pytest.fixture(scope="module")
def ae1(data) -> Autoencoder:
    return _fit(data[0], 1)


def shown(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array())


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.size > 0


def legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


# -------------------------------------------------------------------------- reconstructions
def test_reconstructions_shows_originals_above_reconstructions(data, ae2, tmp_path) -> None:
    X = data[0][:6]
    R = ae2.reconstruct(X)
    fig = plot.reconstructions(X, R, title="digits")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12
    top, bottom = fig.axes[:6], fig.axes[6:]
    for i in range(6):
        assert len(top[i].images) == 1 and len(bottom[i].images) == 1
        np.testing.assert_array_equal(shown(top[i]), X[i])
        np.testing.assert_array_equal(shown(bottom[i]), R[i])
        assert list(top[i].get_xticks()) == [] and list(top[i].get_yticks()) == []
    assert top[0].get_ylabel() == "original"
    assert bottom[0].get_ylabel() == "reconstruction"
    # One grey scale for every panel, spanning both rows.
    lo, hi = float(min(X.min(), R.min())), float(max(X.max(), R.max()))
    for ax in fig.axes:
        assert ax.images[0].get_clim() == pytest.approx((lo, hi))
    assert fig._suptitle is not None and fig._suptitle.get_text() == "digits"
    assert plt.get_fignums() == []  # built without pyplot: no global figure left open
    fig.savefig(tmp_path / "reconstructions.png")
    assert_png(tmp_path / "reconstructions.png")


def test_reconstructions_shows_at_most_n(data, ae2) -> None:
    X = data[0][:15]
    R = ae2.reconstruct(X)
    fig = plot.reconstructions(X, R)
    assert len(fig.axes) == 20  # n=10 by default
    np.testing.assert_array_equal(shown(fig.axes[9]), X[9])
    np.testing.assert_array_equal(shown(fig.axes[19]), R[9])
    assert len(plot.reconstructions(X, R, n=4).axes) == 8
    assert len(plot.reconstructions(X[:3], R[:3], n=10).axes) == 6
    assert fig._suptitle is None


def test_reconstructions_of_flat_square_samples(data, ae2) -> None:
    X = data[0][:4]
    flat = X.reshape(4, 64)
    R = ae2.reconstruct(X).reshape(4, 64)
    fig = plot.reconstructions(flat, R)
    assert len(fig.axes) == 8
    assert shown(fig.axes[0]).shape == (8, 8)
    np.testing.assert_array_equal(shown(fig.axes[2]), X[2])
    np.testing.assert_array_equal(shown(fig.axes[6]), R[2].reshape(8, 8))


def test_reconstructions_of_flat_non_square_samples_need_image_shape(data) -> None:
    images = data[0][:5, :6, :]  # 6x8 crops, 48 pixels: not a square
    flat = images.reshape(5, 48)
    with pytest.raises(ValueError, match="image_shape"):
        plot.reconstructions(flat, flat)
    fig = plot.reconstructions(flat, flat[::-1], image_shape=(6, 8))
    assert len(fig.axes) == 10
    np.testing.assert_array_equal(shown(fig.axes[1]), images[1])
    np.testing.assert_array_equal(shown(fig.axes[5]), images[4])


def test_reconstructions_with_different_lengths_is_an_error(data, ae2) -> None:
    X = data[0][:5]
    with pytest.raises(ValueError, match="same number"):
        plot.reconstructions(X, ae2.reconstruct(X[:3]))


# ------------------------------------------------------------------------------ latent_map
def test_latent_map_of_2d_codes_scatters_the_codes_by_label(data, ae2, tmp_path) -> None:
    X, y = data
    Z = ae2.transform(X)
    fig = plot.latent_map(Z, y, title="codes")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "z1" and ax.get_ylabel() == "z2"
    assert ax.get_title() == "codes"
    classes = np.unique(y)
    assert legend_labels(ax) == [str(c) for c in classes]
    assert ax.get_legend().get_title().get_text() == "label"
    assert len(ax.collections) == len(classes)
    for collection, cls in zip(ax.collections, classes, strict=True):
        np.testing.assert_array_equal(np.asarray(collection.get_offsets()), Z[y == cls])
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(colours) == len(classes)
    fig.savefig(tmp_path / "latent_map.png")
    assert_png(tmp_path / "latent_map.png")


def test_latent_map_without_labels(data, ae2) -> None:
    Z = ae2.transform(data[0][:200])
    fig = plot.latent_map(Z)
    ax = fig.axes[0]
    assert ax.get_legend() is None
    assert len(ax.collections) == 1
    np.testing.assert_array_equal(np.asarray(ax.collections[0].get_offsets()), Z)
    assert ax.get_title() == ""


def test_latent_map_with_string_labels_and_many_classes(data, ae2) -> None:
    X, y = data
    Z = ae2.transform(X[:300])
    names = np.array(["even", "odd"])[y[:300] % 2]
    ax = plot.latent_map(Z, names).axes[0]
    assert legend_labels(ax) == ["even", "odd"]
    np.testing.assert_array_equal(np.asarray(ax.collections[1].get_offsets()), Z[names == "odd"])
    # More than ten classes: every class still gets its own colour.
    many = np.arange(300) % 12
    ax = plot.latent_map(Z, many).axes[0]
    assert legend_labels(ax) == [str(c) for c in range(12)]
    assert len({tuple(c.get_facecolor()[0]) for c in ax.collections}) == 12


def test_latent_map_projects_wide_codes_on_two_principal_components(data, ae5) -> None:
    X, y = data
    Z = ae5.transform(X)
    assert Z.shape == (len(X), 5)
    fig = plot.latent_map(Z, y)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "PC1 of the codes"
    assert ax.get_ylabel() == "PC2 of the codes"
    assert legend_labels(ax) == [str(c) for c in np.unique(y)]
    projected = PCA(2).fit_transform(Z.astype(np.float64))
    offsets = np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections])
    expected = np.concatenate([projected[y == c] for c in np.unique(y)])
    np.testing.assert_allclose(offsets, expected, rtol=1e-6, atol=1e-8)


def test_latent_map_of_1d_codes_lies_on_a_line(data, ae1) -> None:
    X, y = data
    Z = ae1.transform(X[:300])
    assert Z.shape == (300, 1)
    ax = plot.latent_map(Z, y[:300]).axes[0]
    assert ax.get_xlabel() == "z1" and ax.get_ylabel() == ""
    offsets = np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections])
    expected = np.concatenate([Z[y[:300] == c, 0] for c in np.unique(y[:300])])
    np.testing.assert_array_equal(offsets[:, 0], expected)
    np.testing.assert_array_equal(offsets[:, 1], 0)


def test_latent_map_errors(data, ae2) -> None:
    X, y = data
    Z = ae2.transform(X[:50])
    with pytest.raises(ValueError, match="same number"):
        plot.latent_map(Z, y[:40])
    with pytest.raises(ValueError, match="shape"):
        plot.latent_map(Z[:, 0])
    with pytest.raises(ValueError, match="shape"):
        plot.latent_map(np.zeros((50, 0)))

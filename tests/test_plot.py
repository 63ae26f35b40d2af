"""Figures of `aekit.plot`, drawn from real fitted models on the embedded digits."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from aekit import VAE, Autoencoder, AutoencoderClassifier, plot
from aekit.datasets import load_digits, sliding_windows

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


# ------------------------------------------------------------------------- fitted zoo (tiny)
@pytest.fixture(scope="module")
def shallow(data) -> Autoencoder:
    """64-16-64 with terms beyond the reconstruction: L1 sparsity and weight decay."""
    return Autoencoder(
        hidden=(),
        latent_dim=16,
        sparsity="l1",
        weight_decay=1e-4,
        epochs=3,
        random_state=0,
        verbose=False,
    ).fit(data[0])


@pytest.fixture(scope="module")
def conv(data) -> Autoencoder:
    return Autoencoder(architecture="conv", epochs=1, random_state=0, verbose=False).fit(data[0])


@pytest.fixture(scope="module")
def vae(data) -> VAE:
    return VAE(latent_dim=2, epochs=2, random_state=0, verbose=False).fit(data[0])


@pytest.fixture(scope="module")
def clf(data) -> AutoencoderClassifier:
    X, y = data
    return AutoencoderClassifier(
        hidden=(32, 16), pretrain_epochs=2, epochs=3, random_state=0, verbose=False
    ).fit(X[:300], y[:300], X_unlabeled=X[300:800])


def unit_range(tiles: np.ndarray) -> np.ndarray:
    """Each tile from its 1st (black) to its 99th percentile (white), clipped."""
    tiles = tiles.astype(np.float64)
    low = np.percentile(tiles, 1, axis=(1, 2), keepdims=True)
    high = np.percentile(tiles, 99, axis=(1, 2), keepdims=True)
    return np.clip((tiles - low) / (high - low), 0, 1)


def geometry(ax) -> tuple[int, int]:
    return ax.get_subplotspec().get_geometry()[:2]


# -------------------------------------------------------------------------------- features
def test_features_shows_every_weight_row_as_an_image_on_its_own_range(
    data, shallow, tmp_path
) -> None:
    W = shallow.module_.encoder[0].weight.detach().numpy()
    assert W.shape == (16, 64)
    fig = plot.features(shallow, title="filters")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 16
    assert {geometry(ax) for ax in fig.axes} == {(4, 4)}
    expected = unit_range(W.reshape(16, 8, 8))
    for i, ax in enumerate(fig.axes):
        assert len(ax.images) == 1
        tile = shown(ax)
        assert tile.shape == (8, 8)
        # Each tile spans its own range: darkest weight 0, brightest 1.
        assert tile.min() == pytest.approx(0.0) and tile.max() == pytest.approx(1.0)
        np.testing.assert_allclose(tile, expected[i], atol=1e-6)
        assert ax.images[0].get_clim() == (0.0, 1.0)
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert fig._suptitle.get_text() == "filters"
    assert plt.get_fignums() == []
    fig.savefig(tmp_path / "features.png")
    assert_png(tmp_path / "features.png")


def test_features_of_a_deep_net_and_at_most_n(data, ae2) -> None:
    W = ae2.module_.encoder[0].weight.detach().numpy()  # 64 -> 32 first layer
    assert W.shape == (32, 64)
    fig = plot.features(ae2)  # n=100 > 32 units: all of them, 6 x 6 minus the 4 unused cells
    assert len(fig.axes) == 32
    assert geometry(fig.axes[0]) == (6, 6)
    np.testing.assert_allclose(shown(fig.axes[31]), unit_range(W[31:].reshape(1, 8, 8))[0])
    fig = plot.features(ae2, n=5)
    assert len(fig.axes) == 5 and geometry(fig.axes[0]) == (2, 3)
    np.testing.assert_allclose(shown(fig.axes[4]), unit_range(W[4:5].reshape(1, 8, 8))[0])
    assert fig._suptitle is None


def test_features_of_a_weight_array(shallow) -> None:
    W = shallow.module_.encoder[0].weight.detach()
    fig = plot.features(W.numpy()[:10])
    assert len(fig.axes) == 10 and shown(fig.axes[0]).shape == (8, 8)
    np.testing.assert_allclose(
        shown(fig.axes[3]), unit_range(W.numpy()[3:4].reshape(1, 8, 8))[0], atol=1e-6
    )
    assert len(plot.features(W).axes) == 16  # a torch tensor works as well
    # A constant row has no range: it shows as mid grey.
    flat = np.vstack([np.ones(48), np.arange(48.0)])
    fig = plot.features(flat, image_shape=(6, 8))
    np.testing.assert_array_equal(shown(fig.axes[0]), np.full((6, 8), 0.5))
    np.testing.assert_allclose(
        shown(fig.axes[1]), unit_range(np.arange(48.0).reshape(1, 6, 8))[0], atol=1e-6
    )
    # One extreme weight (an untrained border pixel) does not wash out the others.
    row = np.linspace(0.0, 1.0, 1000)
    row[0] = -50.0
    tile = shown(plot.features(row[None], image_shape=(25, 40)).axes[0]).ravel()
    assert tile[0] == 0.0 and tile[500] == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError, match="image_shape"):
        plot.features(flat)  # 48 weights: not a square
    with pytest.raises(ValueError, match="image_shape"):
        plot.features(flat, image_shape=(7, 7))
    with pytest.raises(ValueError, match="2-D"):
        plot.features(np.arange(64.0))
    with pytest.raises(ValueError, match="positive integer"):
        plot.features(flat, n=0, image_shape=(6, 8))


def test_features_of_a_conv_net_shows_its_first_kernels(conv) -> None:
    first = conv.module_.encoder[1]
    assert type(first).__name__ == "Conv2d" and first.in_channels == 1
    kernels = first.weight.detach().numpy()[:, 0]  # (32, 3, 3)
    fig = plot.features(conv)
    assert len(fig.axes) == len(kernels) == 32
    for ax, kernel in zip(fig.axes, unit_range(kernels), strict=True):
        np.testing.assert_allclose(shown(ax), kernel, atol=1e-6)
    assert len(plot.features(conv, n=9).axes) == 9


def test_features_of_the_stacked_classifier_and_the_vae(clf, vae) -> None:
    W = clf.module_.layer(0).weight.detach().numpy()  # the pretrained, fine-tuned 64 -> 32
    fig = plot.features(clf)
    assert len(fig.axes) == 32
    np.testing.assert_allclose(shown(fig.axes[7]), unit_range(W[7:8].reshape(1, 8, 8))[0])
    first = vae.module_.encoder[0].weight.detach().numpy()
    fig = plot.features(vae.module_)  # a module works too: its encoder's first layer
    assert len(fig.axes) == len(first)
    assert shown(fig.axes[0]).shape == (8, 8)


def test_features_errors() -> None:
    series = np.sin(np.linspace(0, 20, 200)).astype(np.float32)
    rnn = Autoencoder(architecture="recurrent", latent_dim=4, epochs=1, verbose=False)
    rnn.fit(sliding_windows(series, 20, 5))
    with pytest.raises(ValueError, match=r"LSTM.*not a dense"):
        plot.features(rnn)
    with pytest.raises(NotFittedError):
        plot.features(Autoencoder())


# ------------------------------------------------------------------------------ image_grid
def test_image_grid_of_vae_samples(vae, tmp_path) -> None:
    samples = vae.sample(23, random_state=0)
    fig = plot.image_grid(samples, title="samples")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 23  # three rows of ten, the last seven cells removed
    assert {geometry(ax) for ax in fig.axes} == {(3, 10)}
    lo, hi = float(samples.min()), float(samples.max())
    for ax, sample in zip(fig.axes, samples, strict=True):
        np.testing.assert_array_equal(shown(ax), sample)
        assert ax.images[0].get_clim() == pytest.approx((lo, hi))
    assert fig._suptitle.get_text() == "samples"
    assert plt.get_fignums() == []
    fig.savefig(tmp_path / "grid.png")
    assert_png(tmp_path / "grid.png")


def test_image_grid_shapes_and_errors(data, ae2) -> None:
    X = data[0][:6]
    R = ae2.denoise(X)
    fig = plot.image_grid(np.concatenate([X, R]), ncols=6)
    assert len(fig.axes) == 12 and geometry(fig.axes[0]) == (2, 6)
    np.testing.assert_array_equal(shown(fig.axes[6]), R[0])
    fig = plot.image_grid(X.reshape(6, 64), ncols=4)  # flat square rows
    assert len(fig.axes) == 6 and shown(fig.axes[5]).shape == (8, 8)
    fig = plot.image_grid(X[:, None])  # (n, 1, h, w), as channel-first data comes
    assert len(fig.axes) == 6 and geometry(fig.axes[0]) == (1, 6)
    np.testing.assert_array_equal(shown(fig.axes[2]), X[2])
    fig = plot.image_grid(X[:, :6].reshape(6, 48), image_shape=(6, 8))
    np.testing.assert_array_equal(shown(fig.axes[1]), X[1, :6])
    with pytest.raises(ValueError, match="image_shape"):
        plot.image_grid(X[:, :6].reshape(6, 48))
    with pytest.raises(ValueError, match="no images"):
        plot.image_grid(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="ncols"):
        plot.image_grid(X, ncols=0)


# --------------------------------------------------------------------------- interpolation
def test_interpolation_strip_of_a_vae(data, vae, tmp_path) -> None:
    X = data[0]
    path = vae.interpolate(X[0], X[1], steps=7)
    fig = plot.interpolation(path, title="0 to 1")
    assert len(fig.axes) == 7
    assert {geometry(ax) for ax in fig.axes} == {(1, 7)}
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert labels == ["t=0", "t=0.17", "t=0.33", "t=0.5", "t=0.67", "t=0.83", "t=1"]
    lo, hi = float(path.min()), float(path.max())
    for ax, image in zip(fig.axes, path, strict=True):
        np.testing.assert_array_equal(shown(ax), image)
        assert ax.images[0].get_clim() == pytest.approx((lo, hi))
    assert fig._suptitle.get_text() == "0 to 1"
    fig.savefig(tmp_path / "interpolation.png")
    assert_png(tmp_path / "interpolation.png")
    assert len(plot.interpolation(path.reshape(7, 64)).axes) == 7
    with pytest.raises(ValueError, match="at least 2"):
        plot.interpolation(path[:1])


# ------------------------------------------------------------------------- training_curves
def line_styles(ax) -> dict[str, tuple[str, object]]:
    return {line.get_label(): (line.get_linestyle(), line.get_color()) for line in ax.lines}


def test_training_curves_of_every_loss_term(shallow, tmp_path) -> None:
    history = shallow.history_
    terms = ["loss", "reconstruction", "sparsity", "weight_decay"]
    assert all(f"val_{t}" in history[0] for t in terms)
    fig = plot.training_curves(shallow, title="64-16-64")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == [k for t in terms for k in (t, f"val_{t}")] + ["best epoch"]
    styles = line_styles(ax)
    for term in terms:
        assert styles[term][0] == "-" and styles[f"val_{term}"][0] == "--"
        assert styles[term][1] == styles[f"val_{term}"][1]  # one colour per term
    assert len({styles[t][1] for t in terms}) == len(terms)
    for line in ax.lines[:-1]:
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(line.get_ydata(), [r[line.get_label()] for r in history])
    best = ax.lines[-1]
    assert best.get_linestyle() == ":" and list(best.get_xdata()) == [shallow.best_epoch_] * 2
    assert ax.get_yscale() == "log"  # every value positive
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert ax.get_title() == "64-16-64"
    assert legend_labels(ax) == labels
    assert plt.get_fignums() == []
    fig.savefig(tmp_path / "curves.png")
    assert_png(tmp_path / "curves.png")


def test_training_curves_of_a_history_list_and_of_the_vae(shallow, vae) -> None:
    ax = plot.training_curves(shallow.history_).axes[0]
    assert "best epoch" not in [line.get_label() for line in ax.lines]  # no estimator, no mark
    assert len(ax.lines) == 8
    ax = plot.training_curves(vae).axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels[:6] == [
        "loss",
        "val_loss",
        "reconstruction",
        "val_reconstruction",
        "kl",
        "val_kl",
    ]


def test_training_curves_leave_out_stage_and_counters(clf) -> None:
    assert clf.history_[0]["stage"] == "finetune"
    ax = plot.training_curves(clf).axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels[:-1] == [
        "loss",
        "val_loss",
        "cross_entropy",
        "val_cross_entropy",
        "error",
        "val_error",
    ]
    # Pretraining restarts its epochs for each layer: the x axis counts epochs in all.
    pre = clf.pretrain_history_
    assert [r["epoch"] for r in pre] == [1, 2, 1, 2]
    ax = plot.training_curves(pre).axes[0]
    assert [line.get_label() for line in ax.lines] == ["loss", "reconstruction"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3, 4])


def test_training_curves_scale_and_partial_histories() -> None:
    history = [
        {"epoch": 1, "loss": 2.0, "val_loss": 2.5, "gap": 0.0, "time": 0.1},
        {"epoch": 2, "loss": 1.0, "val_loss": 1.5, "gap": -0.5, "time": 0.1},
    ]
    ax = plot.training_curves(history).axes[0]
    assert ax.get_yscale() == "linear"  # a value <= 0 cannot go on a log scale
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss", "gap"]
    # A validation term without its training term is still drawn, dashed; a missing value
    # leaves a gap.
    ax = plot.training_curves([{"val_loss": 1.0}, {"val_loss": 0.5, "loss": 0.7}]).axes[0]
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"]
    assert ax.lines[1].get_linestyle() == "--"
    assert np.isnan(ax.lines[0].get_ydata()[0])
    assert ax.get_yscale() == "log"


def test_training_curves_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        plot.training_curves([])
    with pytest.raises(ValueError, match="dict"):
        plot.training_curves([1.0, 2.0])
    with pytest.raises(ValueError, match="list of dicts"):
        plot.training_curves({"loss": [1.0, 0.5]})
    with pytest.raises(ValueError, match="no numeric loss"):
        plot.training_curves([{"epoch": 1, "stage": "finetune", "time": 0.1}])
    with pytest.raises(NotFittedError):
        plot.training_curves(Autoencoder())

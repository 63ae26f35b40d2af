"""Figures of `aekit.plot`, drawn from real fitted models on the embedded digits."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import rcParams
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.manifold import trustworthiness
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from aekit import VAE, AnomalyDetector, Autoencoder, AutoencoderClassifier, LatentIndex, plot
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
    # Fine-tuning minimises the cross-entropy alone (the error is only reported): no total.
    assert labels[:-1] == ["cross_entropy", "val_cross_entropy", "error", "val_error"]
    assert ax.get_legend().get_title().get_text() == "loss = cross_entropy"
    # Pretraining restarts its epochs for each layer: the x axis counts epochs in all.
    pre = clf.pretrain_history_
    assert [r["epoch"] for r in pre] == [1, 2, 1, 2]
    ax = plot.training_curves(pre).axes[0]
    assert [line.get_label() for line in ax.lines] == ["reconstruction"]
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


def test_training_curves_draw_the_total_only_with_penalties(data) -> None:
    # Without a penalty the loss is the reconstruction: drawn, it hid under it.
    plain = Autoencoder(latent_dim=4, epochs=3, random_state=0, verbose=False).fit(data[0][:300])
    history = plain.history_
    assert all(r["loss"] == r["reconstruction"] for r in history)
    ax = plot.training_curves(plain).axes[0]
    assert [line.get_label() for line in ax.lines] == [
        "reconstruction",
        "val_reconstruction",
        "best epoch",
    ]
    assert ax.get_legend().get_title().get_text() == "loss = reconstruction"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [r["reconstruction"] for r in history])
    # A penalty of zero at every epoch adds nothing either; equal up to float32 sums.
    zero = [{"loss": 1.0 + 1e-8, "reconstruction": 1.0, "sparsity": 0.0}]
    ax = plot.training_curves(zero * 2).axes[0]
    assert [line.get_label() for line in ax.lines] == ["reconstruction", "sparsity"]
    # One epoch where a penalty adds to the loss: the total is drawn, under no legend title.
    history = [
        {"loss": 1.0, "reconstruction": 1.0, "kl": 0.0},
        {"loss": 0.9, "reconstruction": 0.8, "kl": 0.1},
    ]
    ax = plot.training_curves(history).axes[0]
    assert [line.get_label() for line in ax.lines] == ["loss", "reconstruction", "kl"]
    assert ax.get_legend().get_title().get_text() == ""


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


# -------------------------------------------------------------------- new figures: helpers
def one_thread():
    """Fitting and t-SNE on one thread: on two busy cores OpenMP spinning makes them 5-10x
    slower with two threads than with one, and the figures do not depend on it."""
    return threadpool_limits(1)


def knn_label_agreement(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Share of each point's k nearest neighbours (itself left out) that carry its label."""
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    return float((labels[idx[:, 1:]] == labels[:, None]).mean())


def offsets_by_class(ax) -> np.ndarray:
    return np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections])


@pytest.fixture(scope="module")
def tsne500(data, ae5) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, str]]:
    """ae5's codes of the first 500 digits, their labels, their t-SNE map and its axes."""
    X, y = data
    Z = ae5.transform(X[:500])
    with one_thread():
        points, axes = plot.project(Z, "tsne")
    return Z, y[:500], points, axes


# --------------------------------------------------------------------------------- project
def test_project_pca_of_wide_codes_is_sklearns(data, ae5) -> None:
    Z = ae5.transform(data[0][:500])
    points, axes = plot.project(Z)
    assert axes == ("PC1 of the codes", "PC2 of the codes")
    assert points.shape == (500, 2) and points.dtype == np.float64
    expected = PCA(2, random_state=0).fit_transform(Z.astype(np.float64))
    np.testing.assert_allclose(points, expected, rtol=1e-6, atol=1e-8)
    # Up to the sign of each component, whatever solver: the same plane.
    np.testing.assert_allclose(
        np.abs(points), np.abs(PCA(2).fit_transform(Z.astype(np.float64))), atol=1e-6
    )
    # The first axis carries the most variance, and the two are uncorrelated.
    assert points[:, 0].var() >= points[:, 1].var() > 0
    assert abs(np.corrcoef(points.T)[0, 1]) < 1e-6
    np.testing.assert_allclose(points.mean(axis=0), 0, atol=1e-6)


def test_project_tsne_keeps_neighbourhoods(tsne500) -> None:
    Z, y, points, axes = tsne500
    assert axes == ("t-SNE 1", "t-SNE 2")
    assert points.shape == (500, 2) and np.isfinite(points).all()
    assert points.std(axis=0).min() > 1.0  # spread out, not collapsed
    # Measured: the 5 nearest neighbours of a digit share its label 43% of the time in the
    # t-SNE map, 45% in the 5-D codes themselves, 27% on the two principal components (10% by
    # chance); trustworthiness (sklearn, 5 neighbours) is 0.991 for t-SNE, 0.905 for PCA.
    agreement = knn_label_agreement(points, y)
    pca_agreement = knn_label_agreement(plot.project(Z)[0], y)
    assert agreement > 0.3
    assert agreement > 0.7 * knn_label_agreement(Z, y)
    assert agreement > pca_agreement
    assert trustworthiness(Z, points, n_neighbors=5) > 0.95


def test_project_tsne_of_few_points_and_narrow_codes(data, ae2, ae1) -> None:
    Z = np.random.default_rng(0).normal(size=(40, 6))
    with one_thread():
        points, axes = plot.project(Z, "tsne", random_state=3)  # perplexity lowered to 13
        again, _ = plot.project(Z, "tsne", random_state=3)
        three, _ = plot.project(Z[:3], "tsne")
    assert axes == ("t-SNE 1", "t-SNE 2")
    assert points.shape == (40, 2) and np.isfinite(points).all()
    np.testing.assert_allclose(points, again)  # seeded: the same map twice
    assert three.shape == (3, 2) and np.isfinite(three).all()
    # 2-D codes are the plane already, whatever the method; 1-D codes lie on the x axis.
    codes = ae2.transform(data[0][:100])
    for method in ("pca", "tsne"):
        points, axes = plot.project(codes, method)
        assert axes == ("z1", "z2")
        np.testing.assert_array_equal(points, codes)
    line = ae1.transform(data[0][:100])
    points, axes = plot.project(line, "tsne")
    assert axes == ("z1", "")
    np.testing.assert_array_equal(points, np.column_stack([line[:, 0], np.zeros(100)]))


def test_project_errors() -> None:
    Z = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match="method must be one of"):
        plot.project(Z, "umap")
    with pytest.raises(ValueError, match="method must be one of"):
        plot.project(Z, "PCA")
    bad = Z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        plot.project(bad)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        plot.project(bad, "tsne")
    for shape in [(20,), (20, 2, 2), (20, 0), (0, 4)]:
        with pytest.raises(ValueError, match="shape"):
            plot.project(np.zeros(shape))
    with pytest.raises(ValueError, match="at least 3 samples"):
        plot.project(Z[:2])


# ------------------------------------------------------------------- latent_map: t-SNE, score
def test_latent_map_tsne_draws_the_tsne_map(tsne500) -> None:
    Z, y, points, _ = tsne500
    with one_thread():
        fig = plot.latent_map(Z, y, method="tsne", title="t-SNE of the codes")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "t-SNE 1" and ax.get_ylabel() == "t-SNE 2"
    assert ax.get_title() == "t-SNE of the codes"
    classes = np.unique(y)
    assert legend_labels(ax) == [str(c) for c in classes]
    expected = np.concatenate([points[y == c] for c in classes])
    np.testing.assert_allclose(offsets_by_class(ax), expected, rtol=1e-5, atol=1e-6)


def test_is_score_tells_scores_from_classes() -> None:
    # Public since the report's map uses it too (it imported a private name, issue 16): more
    # than MAX_CLASSES (20) distinct floats are a score; fewer floats, or integers, are classes.
    from aekit.plot.latent import MAX_CLASSES, is_score

    assert MAX_CLASSES == 20
    assert is_score(np.linspace(0.0, 1.0, 21)) is True
    assert is_score(np.linspace(0.0, 1.0, 20)) is False
    assert is_score(np.arange(21)) is False
    assert is_score(np.array(["a", "b"] * 20)) is False


def test_latent_map_coloured_by_a_score_has_a_colour_bar(data, ae2, tmp_path) -> None:
    X = data[0][:400]
    Z = ae2.transform(X)
    errors = ae2.reconstruction_error(X)
    assert errors.dtype.kind == "f" and len(np.unique(errors)) > 20
    fig = plot.latent_map(Z, errors)
    assert len(fig.axes) == 2  # the map and its colour bar
    ax, bar = fig.axes
    assert len(ax.collections) == 1 and ax.get_legend() is None
    scatter = ax.collections[0]
    np.testing.assert_array_equal(np.asarray(scatter.get_offsets()), Z)
    np.testing.assert_array_equal(np.asarray(scatter.get_array()), errors)
    assert scatter.get_cmap().name == "viridis"
    assert scatter.get_clim() == pytest.approx((errors.min(), errors.max()))
    assert bar.get_ylabel() == "score"
    # The lowest and highest errors get the two ends of the colour scale.
    scatter.update_scalarmappable()  # what drawing does: map the scores to colours
    colours = scatter.get_facecolors()
    cmap = scatter.get_cmap()
    np.testing.assert_allclose(colours[np.argmin(errors), :3], cmap(0.0)[:3], atol=1e-6)
    np.testing.assert_allclose(colours[np.argmax(errors), :3], cmap(1.0)[:3], atol=1e-6)
    fig.savefig(tmp_path / "score_map.png")
    assert_png(tmp_path / "score_map.png")
    # Wide codes coloured by a score: projected, still one scatter with a colour bar.
    fig = plot.latent_map(np.column_stack([Z, errors, -errors]), errors)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "PC1 of the codes"
    # Float labels with few distinct values are still classes; integers always are.
    ax = plot.latent_map(Z, (data[1][:400] % 3).astype(float)).axes[0]
    assert legend_labels(ax) == ["0.0", "1.0", "2.0"]
    assert len(plot.latent_map(Z, np.arange(400) % 25).axes) == 1


# -------------------------------------------------------------------------- anomaly_scores
@pytest.fixture(scope="module")
def zeros_detector(data):
    """A detector trained on the zeros with 10% other digits; held-out digits to score.

    Returns the detector, the training digits and labels (1 = not a zero), the held-out
    digits and labels.
    """
    X, y = data
    rng = np.random.default_rng(0)
    zeros = np.flatnonzero(y == 0)
    others = rng.permutation(np.flatnonzero(y != 0))
    train = np.concatenate([zeros[:140], others[:14]])
    test = np.concatenate([zeros[140:], others[14:52]])
    with one_thread():
        detector = AnomalyDetector(
            contamination=0.1, epochs=5, n_estimators=2, random_state=0, verbose=False
        ).fit(X[train])
    truth = (y != 0).astype(int)
    return detector, X[train], truth[train], X[test], truth[test]


def heights(ax) -> np.ndarray:
    return np.array([patch.get_height() for patch in ax.patches])


def threshold_lines(ax, threshold: float) -> list:
    return [line for line in ax.lines if np.allclose(line.get_xdata(), threshold)]


def test_anomaly_scores_of_a_detector_without_labels(zeros_detector, tmp_path) -> None:
    detector, X_train, _, _, _ = zeros_detector
    scores = detector.decision_scores_
    threshold = detector.threshold_
    assert len(scores) == len(X_train) == 154
    fig = plot.anomaly_scores(detector, title="zeros")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"  # largest score only ~20x the median
    bars = heights(ax)
    assert len(bars) == 50 and bars.sum() == len(scores)
    edges = np.linspace(scores.min(), scores.max(), 51)
    np.testing.assert_array_equal(bars, np.histogram(scores, edges)[0])
    np.testing.assert_allclose([p.get_x() for p in ax.patches], edges[:-1])
    lines = threshold_lines(ax, threshold)
    assert len(lines) == 1 and lines[0].get_linestyle() == "--"
    np.testing.assert_array_equal(lines[0].get_xdata(), [threshold, threshold])
    flagged = (scores > threshold).mean()
    assert flagged == pytest.approx(0.1, abs=0.02)  # the contamination
    labels = legend_labels(ax)
    assert labels == ["samples", f"threshold ({flagged:.1%} above)"]
    assert any("threshold" in label for label in labels)
    assert ax.get_xlabel() == "anomaly score (higher = more abnormal)"
    assert ax.get_ylabel() == "samples"
    assert fig._suptitle.get_text() == "zeros"
    assert plt.get_fignums() == []
    assert len(heights(plot.anomaly_scores(detector, bins=7).axes[0])) == 7
    # An explicit threshold replaces the detector's.
    ax = plot.anomaly_scores(detector, threshold=100.0).axes[0]
    assert len(threshold_lines(ax, 100.0)) == 1 and not threshold_lines(ax, threshold)
    fig.savefig(tmp_path / "anomaly.png")
    assert_png(tmp_path / "anomaly.png")


def test_anomaly_scores_with_labels_shows_the_roc_curve(zeros_detector, tmp_path) -> None:
    detector, X_train, truth_train, X_test, truth_test = zeros_detector
    # Training scores, labels known: the histogram split in two, the ROC curve beside it.
    fig = plot.anomaly_scores(detector, labels=truth_train)
    assert len(fig.axes) == 2
    hist, roc = fig.axes
    scores = detector.decision_scores_
    bars = heights(hist)
    assert len(bars) == 100 and bars.sum() == len(scores)
    edges = np.linspace(scores.min(), scores.max(), 51)
    np.testing.assert_array_equal(bars[:50], np.histogram(scores[truth_train == 0], edges)[0])
    np.testing.assert_array_equal(bars[50:], np.histogram(scores[truth_train == 1], edges)[0])
    assert legend_labels(hist)[:2] == ["inliers (140)", "outliers (14)"]
    assert "threshold" in legend_labels(hist)[2]
    auc = roc_auc_score(truth_train, scores)
    assert legend_labels(roc) == [f"ROC-AUC {auc:.3f}", "chance"]
    fpr, tpr, _ = roc_curve(truth_train, scores)
    np.testing.assert_allclose(roc.lines[0].get_xdata(), fpr)
    np.testing.assert_allclose(roc.lines[0].get_ydata(), tpr)
    assert roc.get_xlabel() == "false positive rate"
    assert roc.get_ylabel() == "true positive rate"
    # Passing X scores it with decision_function (not the training decision_scores_).
    # Measured: ROC-AUC 1.000 on these held-out digits (38 zeros, 38 others).
    held_out = detector.decision_function(X_test)
    fig = plot.anomaly_scores(detector, X_test, labels=truth_test)
    hist, roc = fig.axes
    assert heights(hist).sum() == len(X_test) == 76
    edges = np.linspace(held_out.min(), held_out.max(), 51)
    np.testing.assert_array_equal(
        heights(hist)[50:], np.histogram(held_out[truth_test == 1], edges)[0]
    )
    auc = roc_auc_score(truth_test, held_out)
    assert auc > 0.9
    text = legend_labels(roc)[0]
    assert text == f"ROC-AUC {auc:.3f}"
    assert float(text.split()[-1]) == pytest.approx(auc, abs=5e-4)
    flagged = (held_out > detector.threshold_).mean()
    assert legend_labels(hist)[2] == f"threshold ({flagged:.1%} above)"
    fig.savefig(tmp_path / "anomaly_roc.png")
    assert_png(tmp_path / "anomaly_roc.png")
    # decision_function of the training digits, not decision_scores_, when X is given.
    again = detector.decision_function(X_train)
    roc = plot.anomaly_scores(detector, X_train, labels=truth_train).axes[1]
    assert legend_labels(roc)[0] == f"ROC-AUC {roc_auc_score(truth_train, again):.3f}"


def test_anomaly_scores_of_bare_scores(zeros_detector) -> None:
    detector, _, truth_train, X_test, truth_test = zeros_detector
    # Held-out scores with five zeros mislabelled as outliers: an AUC short of 1 (measured
    # 0.930), written to three decimals.
    held_out = detector.decision_function(X_test)
    noisy = truth_test.copy()
    noisy[:5] = 1
    fig = plot.anomaly_scores(held_out, labels=noisy)
    auc = roc_auc_score(noisy, held_out)
    assert 0.5 < auc < 0.99
    assert legend_labels(fig.axes[1])[0] == f"ROC-AUC {auc:.3f}"
    assert len(fig.axes[0].lines) == 0  # bare scores: no threshold unless given
    scores = detector.decision_scores_
    ax = plot.anomaly_scores(scores).axes[0]
    assert len(ax.lines) == 0 and legend_labels(ax) == ["samples"]  # no threshold to draw
    assert heights(ax).sum() == len(scores)
    ax = plot.anomaly_scores(list(scores), threshold=300.0, bins=10).axes[0]
    assert len(heights(ax)) == 10 and heights(ax).sum() == len(scores)
    assert len(threshold_lines(ax, 300.0)) == 1
    assert legend_labels(ax)[1] == f"threshold ({(scores > 300.0).mean():.1%} above)"
    # Boolean labels work; labels of one class only split the histogram but draw no ROC.
    fig = plot.anomaly_scores(scores, labels=truth_train.astype(bool), threshold=300.0)
    assert len(fig.axes) == 2
    fig = plot.anomaly_scores(scores, labels=np.zeros(len(scores)))
    assert len(fig.axes) == 1
    assert legend_labels(fig.axes[0]) == [f"inliers ({len(scores)})", "outliers (0)"]
    # Scores spread over more than a factor of 100: log-spaced bins on a log axis.
    tail = np.exp(np.random.default_rng(0).normal(0.0, 2.0, 500))
    ax = plot.anomaly_scores(tail, bins=20).axes[0]
    assert ax.get_xscale() == "log"
    edges = np.geomspace(tail.min(), tail.max(), 21)
    np.testing.assert_allclose([p.get_x() for p in ax.patches], edges[:-1])
    np.testing.assert_array_equal(heights(ax), np.histogram(tail, edges)[0])


def test_anomaly_scores_errors(zeros_detector) -> None:
    detector, X_train, truth_train, _, _ = zeros_detector
    scores = detector.decision_scores_
    with pytest.raises(ValueError, match="0 \\(inlier\\) or 1"):
        plot.anomaly_scores(detector, labels=truth_train * 2)
    with pytest.raises(ValueError, match="0 \\(inlier\\) or 1"):
        plot.anomaly_scores(scores, labels=np.full(len(scores), -1))
    with pytest.raises(ValueError, match="one value per score"):
        plot.anomaly_scores(detector, labels=truth_train[:-1])
    with pytest.raises(ValueError, match="one value per score"):
        plot.anomaly_scores(detector, X_train[:10], labels=truth_train)
    bad = scores.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="NaN or -inf"):
        plot.anomaly_scores(bad)
    # +inf is a row the detector could not score and flagged (issue 14): drawn past the
    # largest finite score and counted in the legend, its rank kept for the ROC curve.
    bad[5] = np.inf
    fig = plot.anomaly_scores(bad, threshold=1.0)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(text.startswith("1 unscorable (+inf)") for text in legend)
    fig.savefig(io.BytesIO(), format="png")
    with pytest.raises(ValueError, match="only used with a fitted detector"):
        plot.anomaly_scores(scores, X_train)
    for bins in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="bins must be a positive integer"):
            plot.anomaly_scores(scores, bins=bins)
    for shape in [(0,), (4, 2)]:
        with pytest.raises(ValueError, match="non-empty 1-D"):
            plot.anomaly_scores(np.ones(shape))
    with pytest.raises(NotFittedError):
        plot.anomaly_scores(AnomalyDetector())


# ------------------------------------------------------------------- signal_reconstructions
def test_signal_reconstructions_overlay_each_signal_and_its_reconstruction(tmp_path) -> None:
    t = np.linspace(400.0, 700.0, 50)  # wavelengths
    spectra = np.exp(-((t - np.array([[450.0], [550.0], [650.0], [500.0], [600.0]])) ** 2) / 200)
    recon = 0.8 * spectra
    fig = plot.signal_reconstructions(spectra, recon, n=3, x=t, titles=["a", "b", "c"], title="s")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    for i, ax in enumerate(fig.axes):
        signal, reconstruction = ax.lines
        np.testing.assert_array_equal(signal.get_xdata(), t)
        np.testing.assert_array_equal(signal.get_ydata(), spectra[i])
        np.testing.assert_array_equal(reconstruction.get_ydata(), recon[i])
        assert signal.get_linestyle() == "-" and reconstruction.get_linestyle() == "--"
        assert signal.get_color() == reconstruction.get_color()
        assert ax.get_title(loc="left") == "abc"[i]
    assert legend_labels(fig.axes[0]) == ["signal", "reconstruction"]
    assert fig.axes[-1].get_xlabel() == ""  # positions given: their units are the caller's
    fig.savefig(tmp_path / "signals.png")
    assert_png(tmp_path / "signals.png")
    assert plt.get_fignums() == []


def test_signal_reconstructions_of_channels_and_errors() -> None:
    signals = np.random.default_rng(0).normal(size=(2, 3, 20))  # 3 channels
    fig = plot.signal_reconstructions(signals, signals + 1.0)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 6
    assert legend_labels(fig.axes[0]) == ["channel 0", "reconstruction", "channel 1", "channel 2"]
    np.testing.assert_array_equal(fig.axes[1].lines[3].get_ydata(), signals[1, 1] + 1.0)
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), np.arange(20))
    assert fig.axes[-1].get_xlabel() == "index"
    with pytest.raises(ValueError, match="same shape"):
        plot.signal_reconstructions(signals, signals[:, :2])
    with pytest.raises(ValueError, match=r"\(n, L\) or \(n, C, L\)"):
        plot.signal_reconstructions(signals[0, 0], signals[0, 0])
    with pytest.raises(ValueError, match="one position per value"):
        plot.signal_reconstructions(signals, signals, x=np.arange(5))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        plot.signal_reconstructions(signals, signals, n=0)


# ------------------------------------------------------------------------------- neighbors
RED = to_rgba("C3")


def spine_colours(ax) -> set[tuple[float, ...]]:
    return {tuple(spine.get_edgecolor()) for spine in ax.spines.values()}


@pytest.fixture(scope="module")
def retrieval(data, ae5):
    X = data[0]
    distances, ids = LatentIndex(ae5).add(X[:1500]).search(X[1500:1504], k=5)
    return distances, ids


def test_neighbors_shows_each_query_and_its_nearest_items(data, retrieval, tmp_path) -> None:
    X, y = data
    items, item_labels = X[:1500], y[:1500]
    queries, query_labels = X[1500:1504], y[1500:1504]
    distances, ids = retrieval
    assert ids.shape == distances.shape == (4, 5)
    assert (np.diff(distances, axis=1) >= 0).all()  # nearest first
    fig = plot.neighbors(queries, items, ids, distances, query_labels, item_labels, title="kNN")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * 6
    assert {geometry(ax) for ax in fig.axes} == {(4, 6)}
    lo = float(min(queries.min(), items[ids].min()))
    hi = float(max(queries.max(), items[ids].max()))
    differ = item_labels[ids] != query_labels[:, None]
    # Measured: 8 of the 20 neighbours are another digit, in 3 of the 4 rows.
    assert 0 < differ.sum() < differ.size
    for r in range(4):
        query_ax = fig.axes[r * 6]
        np.testing.assert_array_equal(shown(query_ax), queries[r])
        assert query_ax.get_title() == f"query: {query_labels[r]}"
        assert spine_colours(query_ax) == {to_rgba("C0")}
        assert query_ax.get_xlabel() == ""
        for c in range(5):
            ax = fig.axes[r * 6 + c + 1]
            assert len(ax.images) == 1
            np.testing.assert_array_equal(shown(ax), items[ids[r, c]])
            assert ax.images[0].get_clim() == pytest.approx((lo, hi))
            assert ax.get_title() == str(item_labels[ids[r, c]])
            expected = RED if differ[r, c] else to_rgba(rcParams["axes.edgecolor"])
            assert spine_colours(ax) == {expected}
            assert ax.get_xlabel() == f"{distances[r, c]:.3g}"
            assert float(ax.get_xlabel()) == pytest.approx(distances[r, c], rel=5e-3)
            assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    red = [(i // 6, i % 6 - 1) for i, ax in enumerate(fig.axes) if spine_colours(ax) == {RED}]
    assert red == [tuple(rc) for rc in np.argwhere(differ)]
    assert fig._suptitle.get_text() == "kNN"
    assert plt.get_fignums() == []
    fig.savefig(tmp_path / "neighbors.png")
    assert_png(tmp_path / "neighbors.png")


def test_neighbors_without_labels_or_distances(data, retrieval) -> None:
    X, y = data
    _, ids = retrieval
    fig = plot.neighbors(X[1500:1504].reshape(4, 64), X[:1500].reshape(1500, 64), ids)
    assert len(fig.axes) == 24
    assert fig.axes[0].get_title() == "query"
    np.testing.assert_array_equal(shown(fig.axes[0]), X[1500])  # flat square rows: images
    np.testing.assert_array_equal(shown(fig.axes[13]), X[ids[2, 0]])
    for ax in fig.axes[1:6]:
        assert ax.get_title() == "" and ax.get_xlabel() == ""
        assert RED not in spine_colours(ax)
    # Item labels without query labels: titled, never framed.
    fig = plot.neighbors(X[1500:1504], X[:1500], ids, item_labels=y[:1500])
    assert [ax.get_title() for ax in fig.axes[1:6]] == [str(y[i]) for i in ids[0]]
    assert all(RED not in spine_colours(ax) for ax in fig.axes)
    assert fig._suptitle is None


@pytest.fixture(scope="module")
def table(data) -> tuple[np.ndarray, Autoencoder]:
    """A (400, 10) table (10 principal components of digits) and an autoencoder fitted on it."""
    T = PCA(10, random_state=0).fit_transform(data[0][:400].reshape(400, 64)).astype(np.float32)
    with one_thread():
        ae = Autoencoder(latent_dim=3, epochs=3, random_state=0, verbose=False).fit(T)
    return T, ae


def test_neighbors_of_table_rows_are_line_plots(table) -> None:
    T, ae = table
    items, queries = T[:300], T[300:303]
    distances, ids = LatentIndex(ae).add(items).search(queries, k=4)
    fig = plot.neighbors(queries, items, ids, distances)
    assert len(fig.axes) == 3 * 5
    lo = float(min(queries.min(), items[ids].min()))
    hi = float(max(queries.max(), items[ids].max()))
    for r in range(3):
        for c in range(5):
            ax = fig.axes[r * 5 + c]
            assert len(ax.images) == 0 and len(ax.lines) == 1
            row = queries[r] if c == 0 else items[ids[r, c - 1]]
            np.testing.assert_array_equal(ax.lines[0].get_ydata(), row)
            np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(10))
            assert ax.get_ylim() == pytest.approx((lo, hi))
            assert ax.lines[0].get_color() == ("C0" if c == 0 else "C1")
            if c:
                assert ax.get_xlabel() == f"{distances[r, c - 1]:.3g}"
    # An image shape that fits the rows draws them as images after all; one that does not,
    # is an error.
    fig = plot.neighbors(queries, items, ids, image_shape=(2, 5))
    np.testing.assert_array_equal(shown(fig.axes[1]), items[ids[0, 0]].reshape(2, 5))
    assert len(fig.axes[1].lines) == 0
    with pytest.raises(ValueError, match="image_shape"):
        plot.neighbors(queries, items, ids, image_shape=(3, 3))


def test_neighbors_errors(data, retrieval) -> None:
    X, y = data
    items, queries = X[:1500], X[1500:1504]
    distances, ids = retrieval
    with pytest.raises(ValueError, match="must index the 1500 items"):
        plot.neighbors(queries, items, np.where(ids == ids[0, 0], 1500, ids))
    with pytest.raises(ValueError, match="must index"):
        plot.neighbors(queries, items, -ids - 1)
    with pytest.raises(ValueError, match="must index"):
        plot.neighbors(queries, items[:10], ids)  # items the ids were not computed on
    with pytest.raises(ValueError, match=r"integer array \(n_queries, k\)"):
        plot.neighbors(queries, items, ids.ravel())
    with pytest.raises(ValueError, match="integer array"):
        plot.neighbors(queries, items, ids[..., None])
    with pytest.raises(ValueError, match="integer array"):
        plot.neighbors(queries, items, ids.astype(float))
    with pytest.raises(ValueError, match="4 queries but ids for 3"):
        plot.neighbors(queries, items, ids[:3])
    with pytest.raises(ValueError, match="3 queries but ids for 4"):
        plot.neighbors(queries[:3], items, ids)
    with pytest.raises(ValueError, match="distances must have the shape of ids"):
        plot.neighbors(queries, items, ids, distances[:, :4])
    with pytest.raises(ValueError, match="query_labels must hold 4 labels, got 3"):
        plot.neighbors(queries, items, ids, query_labels=y[1500:1503], item_labels=y[:1500])
    with pytest.raises(ValueError, match="item_labels must hold 1500 labels, got 1499"):
        plot.neighbors(queries, items, ids, query_labels=y[1500:1504], item_labels=y[:1499])
    with pytest.raises(ValueError, match="no queries"):
        plot.neighbors(queries[:0], items, ids[:0])


def test_neighbors_as_images_or_lines_on_request(retrieval, data) -> None:
    X, _ = data
    queries, items, ids = X[1500:1504], X[:1500], retrieval[1]
    lines = plot.neighbors(queries, items, ids, as_images=False)
    assert all(len(ax.images) == 0 and len(ax.lines) == 1 for ax in lines.axes)
    np.testing.assert_array_equal(lines.axes[1].lines[0].get_ydata(), items[ids[0, 0]].ravel())
    images = plot.neighbors(queries.reshape(4, -1), items.reshape(1500, -1), ids, as_images=True)
    assert all(len(ax.images) == 1 for ax in images.axes)
    with pytest.raises(ValueError, match="as images"):
        plot.neighbors(np.zeros((4, 10)), np.zeros((1500, 10)), ids, as_images=True)
    with pytest.raises(ValueError, match="k = 0"):
        plot.neighbors(queries, items, ids[:, :0])


# ------------------------------------------------------------------------ anomaly_timeline
@pytest.fixture(scope="module")
def series_detector() -> tuple[AnomalyDetector, np.ndarray, np.ndarray]:
    """A detector of 40-step windows fitted on a clean sine, and a test series with a jump."""
    rng = np.random.default_rng(0)
    t = np.arange(1500)
    clean = np.sin(2 * np.pi * t / 50) + 0.05 * rng.normal(size=1500)
    with one_thread():
        det = AnomalyDetector(window=40, epochs=10, n_estimators=2, contamination=0.02)
        det.set_params(random_state=0, verbose=False).fit(clean)
    test = np.sin(2 * np.pi * t[:800] / 50) + 0.05 * rng.normal(size=800)
    test[500:530] += 2.0
    labels = np.zeros(800, dtype=int)
    labels[500:530] = 1
    return det, test, labels


def test_anomaly_timeline_of_a_series_detector(series_detector, tmp_path) -> None:
    det, test, labels = series_detector
    fig = plot.anomaly_timeline(det, test, labels=labels, title="jump")
    top, bottom = fig.axes
    scores = det.decision_function(test)
    np.testing.assert_array_equal(top.lines[0].get_ydata(), test)
    score_line, threshold_line, flagged = bottom.lines
    np.testing.assert_allclose(score_line.get_ydata(), scores)
    assert list(threshold_line.get_ydata()) == [det.threshold_, det.threshold_]
    above = np.flatnonzero(scores > det.threshold_)
    np.testing.assert_array_equal(flagged.get_xdata(), above)
    assert flagged.get_label() == f"flagged ({len(above)} steps)"
    # The jump is found: most flagged steps lie on it or within a window of it. The threshold
    # is the training scores' 98th percentile, which a new clean stretch exceeds on about 3.6%
    # of its steps, so a few flags fall elsewhere (0.79 of them near the jump when measured).
    near = (above >= 500 - 40) & (above < 530 + 40)
    assert len(above) > 0 and near.mean() > 0.65
    assert roc_auc_score(labels, scores) > 0.9
    # The labelled span is shaded on both axes.
    for ax in (top, bottom):
        (span,) = ax.patches
        x0, x1 = span.get_x(), span.get_x() + span.get_width()
        assert (x0, x1) == (500, 529)
    assert bottom.get_xlabel() == "time step"
    fig.savefig(tmp_path / "timeline.png")
    assert_png(tmp_path / "timeline.png")


def test_anomaly_timeline_of_bare_scores_and_errors(series_detector) -> None:
    det, test, labels = series_detector
    scores = det.decision_function(test)
    fig = plot.anomaly_timeline(scores)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1  # no threshold, nothing flagged
    training = plot.anomaly_timeline(det)  # the training scores
    np.testing.assert_allclose(training.axes[0].lines[0].get_ydata(), det.decision_scores_)
    with pytest.raises(ValueError, match="series must have shape"):
        plot.anomaly_timeline(scores, series=test[:10])
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        plot.anomaly_timeline(scores, labels=labels[:10])
    with pytest.raises(ValueError, match="1-D"):
        plot.anomaly_timeline(np.zeros((3, 3)))


def test_user_labels_are_drawn_verbatim_not_as_mathtext() -> None:
    # Issue 14: a label with "$" (e.g. from a CSV) made matplotlib parse mathtext and fail.
    from aekit.plot import latent_map, neighbors

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(6, 2))
    labels = np.array(["$x^$", "a$b", "$", "$x^$", "a$b", "$"])
    fig = latent_map(Z, labels)
    fig.savefig(io.BytesIO(), format="png")  # draws every text, parsing mathtext
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(t.replace("\\$", "$") for t in texts) == sorted(set(labels))
    X = rng.random((6, 4, 4))
    ids = np.array([[1, 2], [0, 2]])
    fig = neighbors(X[:2], X, ids, np.zeros((2, 2)), query_labels=labels[:2], item_labels=labels)
    fig.savefig(io.BytesIO(), format="png")  # draws every text, parsing mathtext

"""The HTML report: its sections for every kind of model, the latent map's data, the CLI verb.

The report is checked in a real browser by test_report_browser.py; here its content is read
as text and its embedded data decoded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import warnings
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

import aekit
from aekit import VAE, AnomalyDetector, Autoencoder, AutoencoderClassifier
from aekit.report import build_report, check_report_output, write_report
from aekit.report.build import json_for_html
from aekit.report.latent_map import MAP_SIZE, map_payload, neighbours
from test_cli import assert_user_error, run_cli

FAST = {"random_state": 0, "verbose": False}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Small fits and figures: two threads on two shared cores only spin.
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = aekit.datasets.load_digits()
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def ae(digits) -> Autoencoder:
    return Autoencoder(latent_dim=4, epochs=30, **FAST).fit(digits[0])


def payload(page: str) -> dict:
    match = re.search(r'<script id="map-data" type="application/json">(.*?)</script>', page, re.S)
    assert match, "the report has no latent map data"
    return json.loads(match.group(1))


def images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def figure_titles(page: str) -> list[str]:
    return re.findall(r"<figure><h3>([^<]+)</h3><img", page)


def metric(page: str, name: str) -> str:
    match = re.search(rf"<th>{re.escape(name)}</th><td>([^<]+)</td>", page)
    assert match, f"no metric {name!r}"
    return match.group(1)


def decoded(data: dict, key: str) -> np.ndarray:
    packed = base64.b64decode(data[key])
    raw = np.frombuffer(zlib.decompress(packed), dtype=np.uint8).astype(np.float64)
    low, high = data["range"]
    return (low + raw / 255 * (high - low)).reshape(len(data["x"]), -1)


# ------------------------------------------------------------------------- an autoencoder
def test_report_of_an_autoencoder_has_every_section(ae, digits) -> None:
    X, y = digits
    page = build_report(ae, X, y, title="digits <test>", data_name="digits")
    assert page.startswith("<!doctype html>")
    assert "<title>digits &lt;test&gt;</title>" in page  # escaped
    for section in ("model", "data", "metrics", "latent-map", "figures"):
        assert f'<section id="{section}">' in page
    config = ae.module_.config
    widths = "-".join(map(str, [64, *config.hidden, 4]))
    assert metric(page, "layers") == f"{widths} (the decoder mirrors them)"
    n_params = sum(p.numel() for p in ae.module_.parameters())
    assert metric(page, "size").startswith(f"{n_params:,} parameters")
    assert metric(page, "samples") == "400 of shape (8, 8)"
    assert metric(page, "source") == "digits"
    assert figure_titles(page) == [
        "Training curves",
        "Reconstructions",
        "Learned features",
        "Similar items",
    ]
    pngs = images(page)
    assert len(pngs) == 4 and all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_report_metrics_put_the_model_beside_pca(ae, digits) -> None:
    X, y = digits
    page = build_report(ae, X, y)
    # Squared error summed over a sample's 64 values, averaged over the samples.
    flat = X.reshape(len(X), -1).astype(np.float64)
    sse = ((flat - ae.reconstruct(X).reshape(len(X), -1)) ** 2).sum(1).mean()
    pca = PCA(4, random_state=0).fit(flat)
    pca_sse = ((flat - pca.inverse_transform(pca.transform(flat))) ** 2).sum(1).mean()
    # The page shows 4 significant digits.
    shown = float(metric(page, "reconstruction error (squared error per sample)"))
    assert shown == pytest.approx(sse, rel=1e-3)
    text = metric(page, "PCA with 4 components, fitted to these data")
    assert float(text.split()[0]) == pytest.approx(pca_sse, rel=1e-3)
    assert text.endswith(f"({pca_sse / sse:.2f}x the model&#x27;s)")
    assert "Reconstruction error: squared error summed over each sample&#x27;s values" in page


def test_demo_console_and_report_give_one_pca_figure(tmp_path, monkeypatch) -> None:
    # The demo prints the autoencoder's error beside PCA's; its report shows the same
    # numbers (they once differed: per image against per value, PCA fitted to other data).
    from aekit.cli import demo as demo_module

    def quick(**params):
        return Autoencoder(**{**params, "epochs": 3})

    # run_demo imports the estimator when it runs (the verb's module is imported for --help).
    monkeypatch.setattr("aekit.estimators.Autoencoder", quick)
    result = demo_module.run_demo(tmp_path / "demo", random_state=0)
    page = result.files["report"].read_text(encoding="utf-8")
    shown = float(metric(page, "reconstruction error (squared error per sample)"))
    assert shown == pytest.approx(result.ae_error, rel=1e-3)  # 4 significant digits
    text = metric(page, "PCA with 2 components, fitted to these data")
    assert float(text.split()[0]) == pytest.approx(result.pca_error, rel=1e-3)
    # The very ratio the console prints (aekit.cli.demo).
    assert f"({result.pca_error / result.ae_error:.2f}x the model" in text
    model = aekit.load(result.files["model"])
    X, y = aekit.datasets.load_digits()
    from sklearn.model_selection import train_test_split

    X_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)[1]
    from aekit.report.baseline import pca_baseline

    baseline = pca_baseline(model, X_test)
    assert (baseline.error, baseline.pca_error) == pytest.approx(
        (result.ae_error, result.pca_error),
        rel=1e-5,  # a saved model's float32 weights
    )


def test_latent_map_data_matches_the_model(ae, digits) -> None:
    X, y = digits
    data = payload(build_report(ae, X, y, max_points=300, random_state=1))
    n = len(data["x"])
    assert n == 300 and len(set(data["ids"])) == 300  # a random subset, no repeats
    ids = np.asarray(data["ids"])
    assert (np.diff(ids) > 0).all() and ids.max() < 400
    # Points inside the drawing, codes projected by PCA (4-D codes).
    xy = np.column_stack([data["x"], data["y"]])
    assert xy.min() >= 0 and xy.max() <= MAP_SIZE
    assert data["axes"] == ["PC1 of the codes", "PC2 of the codes"]
    # The hover previews are the samples and their reconstructions, to a byte's precision.
    step = (data["range"][1] - data["range"][0]) / 255
    np.testing.assert_allclose(decoded(data, "items"), X[ids].reshape(n, -1), atol=step)
    recon = ae.reconstruct(X[ids]).reshape(n, -1)
    np.testing.assert_allclose(decoded(data, "recon"), recon, atol=step)
    assert data["labels"] == [str(v) for v in y[ids]]
    np.testing.assert_allclose(data["values"], ae.reconstruction_error(X[ids]), rtol=1e-3)
    assert data["value_name"] == "reconstruction error"
    # Clicked neighbours: the exact nearest codes, in the full 4-D code space, self excluded.
    Z = ae.transform(X[ids]).astype(np.float64)
    d = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    got = np.asarray(data["neighbours"]).reshape(n, data["k"])
    assert data["k"] == 8
    expected = np.sort(d, axis=1)[:, :8] ** 0.5
    np.testing.assert_allclose(np.sort(np.sqrt(d[np.arange(n)[:, None], got]), 1), expected)
    assert len(data["colors"]) == n and data["legend"][0][0] == "0"


def test_neighbours_leave_each_point_out_even_with_duplicates() -> None:
    codes = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    ids, distances = neighbours(codes, k=2)
    assert ids.shape == (4, 2)
    assert all(i not in row for i, row in enumerate(ids))
    assert set(ids[0]) == {1, 2} and set(ids[1]) == {0, 2}
    np.testing.assert_allclose(distances[0], [0.0, 1.0])


def test_report_is_self_contained(ae, digits) -> None:
    page = build_report(ae, *digits)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # No attribute points anywhere but into the page itself.
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), refs
    assert "<script src" not in page and '<link rel="stylesheet"' not in page


def test_report_without_data_shows_the_model(ae) -> None:
    page = build_report(ae)
    assert '<section id="model">' in page and "No data given" in page
    assert 'id="map-data"' not in page and "latent-map" not in page
    assert figure_titles(page) == ["Training curves", "Learned features"]


def test_report_projects_by_tsne_on_request(ae, digits) -> None:
    data = payload(build_report(ae, *digits, projection="tsne", max_points=150))
    assert data["axes"] == ["t-SNE 1", "t-SNE 2"]


def test_report_errors(ae, digits) -> None:
    X, y = digits
    with pytest.raises(NotFittedError):
        build_report(Autoencoder())
    with pytest.raises(ValueError, match="labels for 400"):
        build_report(ae, X, y[:10])
    with pytest.raises(ValueError, match="max_points"):
        build_report(ae, X, max_points=1)
    with pytest.raises(ValueError, match="projection"):
        build_report(ae, X, projection="umap")
    with pytest.raises(ValueError, match=r"n_features|features|shape"):
        build_report(ae, np.zeros((10, 5)))


# ------------------------------------------------------------------------ the other models
def test_report_of_a_vae_shows_samples_interpolation_and_elbo(digits) -> None:
    X, y = digits
    vae = VAE(latent_dim=2, epochs=10, **FAST).fit(X)
    page = build_report(vae, X, y)
    assert figure_titles(page) == [
        "Training curves",
        "Samples",
        "Reconstructions",
        "Interpolation",
        "Learned features",
        "Similar items",
    ]
    elbo = float(metric(page, "ELBO (nats per sample, one-sample estimate)").replace(",", ""))
    assert elbo == pytest.approx(float(np.mean(vae.elbo(X, random_state=0))), rel=1e-3)
    assert payload(page)["axes"] == ["z1", "z2"]  # 2-D codes drawn as they are
    # The interpolation runs between the first digit and the first one of another class.
    other = int(np.flatnonzero(y != y[0])[0])
    assert f"samples #0 and #{other}" in page


def test_report_of_the_classifier_gives_its_accuracy(digits) -> None:
    X, y = digits
    clf = AutoencoderClassifier(hidden=(32, 8), pretrain_epochs=2, epochs=20, **FAST).fit(X, y)
    page = build_report(clf, X, y)
    assert float(metric(page, "accuracy")) == pytest.approx(clf.score(X, y), abs=1e-4)
    data = payload(page)
    assert data["recon"] is None and data["values"] is None
    assert metric(page, "layers") == "64-32-8-10 (encoder, then the softmax head)"
    assert len(data["x"]) == 400


def test_report_of_a_detector_shows_scores_and_roc(digits) -> None:
    X, y = digits
    outlier = (y != 0).astype(int)
    train = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y != 0)[:4]])
    det = AnomalyDetector(contamination=0.05, epochs=10, n_estimators=2, **FAST).fit(X[train])
    page = build_report(det, X, outlier)
    assert figure_titles(page)[:2] == ["Training curves", "Anomaly scores"]
    assert "Learned features" not in figure_titles(page)
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(outlier, det.decision_function(X))
    assert float(metric(page, "ROC-AUC against the labels")) == pytest.approx(auc, abs=1e-4)
    assert auc > 0.9  # zeros against the other digits
    flagged = float(metric(page, "flagged as outliers").rstrip("%")) / 100
    assert flagged == pytest.approx((det.decision_function(X) > det.threshold_).mean(), abs=1e-4)
    data = payload(page)
    assert data["value_name"] == "anomaly score"
    np.testing.assert_allclose(data["values"], det.decision_function(X), rtol=1e-3)


def test_report_of_a_long_series_scores_every_step(monkeypatch) -> None:
    # Beyond MAX_METRIC_SAMPLES, tables are subsampled for the metrics; a series must not be.
    from aekit.report import build as build_module

    monkeypatch.setattr(build_module, "MAX_METRIC_SAMPLES", 300)
    t = np.arange(1200)
    series = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=1200)
    series[900:930] += 1.5
    labels = np.zeros(1200, dtype=int)
    labels[900:930] = 1
    det = AnomalyDetector(window=40, epochs=5, n_estimators=2, **FAST).fit(series[:800])
    page = build_report(det, series, labels, max_points=200)
    scores = det.decision_function(series)
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(labels, scores)
    assert float(metric(page, "ROC-AUC against the labels")) == pytest.approx(auc, abs=1e-4)
    assert "a random 300" not in page


def test_report_of_a_series_detector_maps_its_windows() -> None:
    t = np.arange(1200)
    series = np.sin(2 * np.pi * t / 50) + 0.05 * np.random.default_rng(0).normal(size=1200)
    det = AnomalyDetector(window=40, epochs=5, n_estimators=2, **FAST).fit(series)
    page = build_report(det, series, max_points=500)
    data = payload(page)
    assert data["kind"] == "vector" and data["shape"] == [40]
    assert len(data["x"]) == 500 and max(data["ids"]) <= 1200 - 40
    assert data["scores"] is not None  # no labels: coloured by anomaly score, shown once
    assert data["values"] is None
    assert metric(page, "series") == "1,200 steps of 1 feature(s), windows of 40"
    ids = np.asarray(data["ids"])
    windows = np.lib.stride_tricks.sliding_window_view(series, 40)[ids]
    step = (data["range"][1] - data["range"][0]) / 255
    np.testing.assert_allclose(decoded(data, "items"), windows, atol=step)
    assert figure_titles(page)[1:3] == ["Anomaly scores", "Scores over time"]


# ------------------------------------------------------------------- tables and signals
def similar_rows(page: str) -> list[tuple[str, list[list[str]]]]:
    """The similar-items table: (query heading, rows of cell texts) per query."""
    match = re.search(r'<section id="similar">(.*?)</section>', page, re.S)
    assert match, "the report has no similar-items table"
    groups: list[tuple[str, list[list[str]]]] = []
    for kind, text in re.findall(r"<tr( class=\"query\")?[^>]*>(.*?)</tr>", match.group(1)):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", text)
        if kind:
            groups.append((cells[0], []))
        elif groups:
            groups[-1][1].append(cells)
    return groups


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray, list[str]]:
    # Two groups of rows in features of very different units (a blood pressure, a ratio).
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1], 60)
    X = np.column_stack(
        [
            120 + 30 * group + rng.normal(0, 5, 120),
            0.5 + 0.3 * group + rng.normal(0, 0.05, 120),
            rng.normal(0, 1, 120),
            rng.normal(0, 1, 120),
        ]
    )
    return X, group, ["pressure", "ratio", "noise_a", "noise_b"]


def test_table_report_lists_similar_rows_by_id_with_the_features_that_differ(table) -> None:
    X, y, columns = table
    ae = Autoencoder(latent_dim=2, epochs=20, **FAST).fit(X)
    ids = [f"P{i:03d}" for i in range(len(X))]
    ids[0] = "<i>P000</i>"  # ids are the user's text: escaped like any other
    page = build_report(ae, X, y, ids=ids, feature_names=columns)
    # Not a figure of line plots (one per row, titled by a label "0.0"): a table.
    assert "Similar items" not in figure_titles(page)
    assert '<a href="#similar">Similar items</a>' in page
    data = payload(page)
    assert data["names"] == [ids[i] for i in data["ids"]]  # the map speaks of ids too
    groups = similar_rows(page)
    assert len(groups) == 5
    spread = X.std(axis=0)
    k = data["k"]
    for q, (heading, rows) in enumerate(groups):
        query = data["ids"][q]
        label = f"label {y[query]}"
        assert heading == f"query {ids[query]} · {label}".replace("<", "&lt;").replace(">", "&gt;")
        assert len(rows) == 5
        for r, (name, distance, item_label, differences) in enumerate(rows):
            item = data["ids"][data["neighbours"][q * k + r]]
            assert name == ids[item].replace("<", "&lt;").replace(">", "&gt;")
            assert float(distance) == data["distances"][q * k + r]
            assert item_label == str(y[item])
            # The three features that differ most, in standard deviations of the data.
            z = (X[item] - X[query]) / spread
            top = np.argsort(-np.abs(z), kind="stable")[:3]
            expected = "; ".join(
                f"{columns[j]} {X[query, j]:,.4g} → {X[item, j]:,.4g} ({z[j]:+.1f} sd)" for j in top
            )
            assert differences == expected
    assert "&lt;i&gt;P000&lt;/i&gt;" in page and "<i>P000</i>" not in page
    assert "red: another label" in page
    # Neighbours of another label than their query's are marked, and only they.
    other = sum(
        y[data["ids"][data["neighbours"][q * k + r]]] != y[data["ids"][q]]
        for q in range(5)
        for r in range(5)
    )
    assert page.count('<tr class="other">') == other


def test_table_report_names_features_as_the_model_knows_them(table) -> None:
    pd = pytest.importorskip("pandas")
    X, _, columns = table
    frame = pd.DataFrame(X, columns=columns)
    ae = Autoencoder(latent_dim=2, epochs=5, **FAST).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the report calls the model with arrays, quietly
        page = build_report(ae, X)  # no names given: the estimator's feature_names_in_
        assert build_report(ae, frame).count("noise_a") >= 1
    with pytest.raises(ValueError, match="column 1 is 'noise_a' where the model has 'ratio'"):
        build_report(ae, frame[["pressure", "noise_a", "ratio", "noise_b"]])
    (_, rows), *_ = similar_rows(page)
    assert rows[0][0].startswith("#") and len(rows[0]) == 3  # row positions, no label column
    assert re.match(r"(pressure|ratio|noise_a|noise_b) ", rows[0][2])
    assert "red: another label" not in page
    bare = Autoencoder(latent_dim=2, epochs=5, **FAST).fit(X)
    (_, rows), *_ = similar_rows(build_report(bare, X))
    assert re.match(r"x\[[0-3]\] ", rows[0][2])


def test_report_ids_and_feature_names_are_checked(table, ae, digits) -> None:
    X, _, columns = table
    model = Autoencoder(latent_dim=2, epochs=2, **FAST).fit(X)
    with pytest.raises(ValueError, match=r"one id per sample of X \(120\)"):
        build_report(model, X, ids=["a", "b"])
    with pytest.raises(ValueError, match="pass X as well"):
        build_report(model, ids=["a"])
    with pytest.raises(ValueError, match=r"one name per feature \(4\)"):
        build_report(model, X, feature_names=columns[:3])
    # An image model's map and captions use the ids as well.
    names = [f"img-{i}" for i in range(len(digits[0]))]
    data = payload(build_report(ae, digits[0], ids=names, max_points=50))
    assert data["names"] == [names[i] for i in data["ids"]]


def test_similar_items_caption_speaks_of_labels_only_when_there_are_labels(ae, digits) -> None:
    X, y = digits
    captions = re.findall(
        r"<h3>Similar items</h3>.*?<figcaption>([^<]*)</figcaption>", build_report(ae, X), re.S
    )
    assert captions == ["nearest neighbours in the code space, nearest first"]
    captions = re.findall(
        r"<h3>Similar items</h3>.*?<figcaption>([^<]*)</figcaption>", build_report(ae, X, y), re.S
    )
    assert captions == [
        "nearest neighbours in the code space, nearest first (red frame: another label)"
    ]


def spectra(n: int, length: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian peaks at one of two positions: 1-D spectra of two classes."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    t = np.arange(length)
    centre = np.where(y == 0, 10, 22)[:, None] + rng.normal(0, 1, (n, 1))
    return np.exp(-((t - centre) ** 2) / 8.0) + rng.normal(0, 0.02, (n, length)), y


@pytest.mark.parametrize(
    ("params", "shape", "as_signals"),
    [
        ({"architecture": "conv", "hidden": (4,)}, (32,), lambda X: X[:, None, :]),
        (
            {"architecture": "conv", "hidden": (4,), "spatial_dims": 1},
            (2, 16),
            lambda X: X,
        ),
        ({"architecture": "recurrent", "hidden": (8,)}, (16, 2), lambda X: X.transpose(0, 2, 1)),
    ],
)
def test_report_of_1d_signals_overlays_their_reconstructions(
    params, shape, as_signals, monkeypatch
) -> None:
    X, y = spectra(80)
    X = X.reshape(len(X), *shape)
    ae = Autoencoder(latent_dim=4, epochs=2, **params, **FAST).fit(X)
    calls = []
    real = aekit.plot.signal_reconstructions

    def spy(originals, reconstructed, **kwargs):
        calls.append((originals, reconstructed, kwargs))
        return real(originals, reconstructed, **kwargs)

    monkeypatch.setattr(aekit.plot, "signal_reconstructions", spy)
    page = build_report(ae, X, y)
    titles = figure_titles(page)
    assert titles[:2] == ["Training curves", "Reconstructions"] and "Similar items" in titles
    assert 'id="similar"' not in page  # signals are no table
    ((originals, reconstructed, kwargs),) = calls
    first = [int(np.flatnonzero(y == c)[0]) for c in (0, 1)]  # the first of each class
    np.testing.assert_array_equal(originals, as_signals(X[first]))
    np.testing.assert_allclose(reconstructed, as_signals(ae.reconstruct(X[first])))
    assert kwargs["titles"] == [f"sample #{i} · label {y[i]}" for i in first]


def test_a_dense_model_of_the_same_rows_is_a_table() -> None:
    X, y = spectra(60)
    ae = Autoencoder(latent_dim=2, hidden=(8,), epochs=2, **FAST).fit(X)
    page = build_report(ae, X, y)
    assert "Reconstructions" not in figure_titles(page)
    assert len(similar_rows(page)) == 5


# ----------------------------------------------------------------------- writing, the CLI
def test_write_report_from_a_model_directory(ae, digits, tmp_path) -> None:
    model_dir = ae.save(tmp_path / "model")
    out = write_report(model_dir, X=digits[0], y=digits[1])
    assert out == model_dir / "report.html"
    page = out.read_text(encoding="utf-8")
    assert f"{model_dir}" in metric(page, "saved at")
    assert aekit.load(model_dir).latent_dim == 4  # the model directory still loads
    assert not list(tmp_path.glob("**/*.partial"))
    other = write_report(ae, tmp_path / "sub" / "r.html")
    assert other.is_file()


def test_report_command(ae, tmp_path, capsys) -> None:
    model_dir = ae.save(tmp_path / "model")
    argv = ["report", model_dir, "--data", "digits", "--max-points", "300"]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    report = model_dir / "report.html"
    assert f"wrote {report}" in out
    data = payload(report.read_text(encoding="utf-8"))
    assert len(data["x"]) == 300 and data["labels"] is not None  # digits bring their labels
    argv = ["report", model_dir, "--out", tmp_path / "bare.html", "--title", "bare"]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    assert "<title>bare</title>" in (tmp_path / "bare.html").read_text(encoding="utf-8")


def test_report_command_errors(ae, tmp_path, capsys) -> None:
    model_dir = ae.save(tmp_path / "model")

    def error(argv: list[object]) -> str:
        return assert_user_error(*run_cli(argv, capsys)[::2], "report")

    assert "nowhere" in error(["report", tmp_path / "nowhere"])
    assert "--labels needs --data" in error(["report", model_dir, "--labels", "y.npy"])
    np.save(tmp_path / "five.npy", np.zeros((10, 5), dtype=np.float32))
    assert "feature" in error(["report", model_dir, "--data", tmp_path / "five.npy"])
    labels = tmp_path / "y.npy"
    np.save(labels, np.zeros(3))
    assert "3 labels" in error(["report", model_dir, "--data", "digits", "--labels", labels])
    assert not (model_dir / "report.html").exists()


# ------------------------------------------------------------- hostile text, the page's policy
# Labels that once ended or hid the page's own script ("<!--<script>" turns the HTML parser's
# script state into one where the real "</script>" no longer ends the element), or that older
# JavaScript parsers read as a line end (U+2028), or that UTF-8 cannot hold (a lone surrogate).
HOSTILE = [
    "<!--<script>",
    "</script><script>alert(1)</script>",
    "]]>",
    "\"double\" 'single' `back`",
    "line\u2028separator\u2029paragraph",
    "&amp; &lt;",
    "\ud800 lone",
]
# What the HTML parser looks for inside a script or style element, whatever its type.
ELEMENT_BREAKERS = re.compile(r"<!--|<script|</script|</style", re.I)


class PageParts(HTMLParser):
    """The page as a browser would split it: its script and style elements with their exact
    text, the policy of its CSP meta tag, and every attribute named ``style`` or ``on...``."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict, str]] = []
        self.styles: list[str] = []
        self.csp: list[str] = []
        self.inline_attributes: list[str] = []
        self._open: tuple[str, dict, list[str]] | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        self.inline_attributes += [a for a in attributes if a == "style" or a.startswith("on")]
        if tag == "meta" and attributes.get("http-equiv") == "Content-Security-Policy":
            self.csp.append(attributes["content"])
        if tag in ("script", "style"):
            self._open = (tag, attributes, [])

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == self._open[0]:
            name, attributes, text = self._open
            if name == "script":
                self.scripts.append((attributes, "".join(text)))
            else:
                self.styles.append("".join(text))
            self._open = None


def policy(page: str) -> dict[str, list[str]]:
    parts = PageParts(page)
    assert len(parts.csp) == 1, parts.csp
    directives = [d.split() for d in parts.csp[0].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def hostile_page(ae, digits) -> tuple[str, np.ndarray]:
    X, _ = digits
    labels = np.array([HOSTILE[i % len(HOSTILE)] for i in range(len(X))])
    page = build_report(ae, X, labels, title=HOSTILE[0], data_name=HOSTILE[1], max_points=60)
    return page, labels


def test_hostile_labels_leave_the_page_scripts_intact(hostile_page) -> None:
    page, labels = hostile_page
    parts = PageParts(page)
    # Exactly the report's two scripts: the map's data, then its code, unchanged.
    assert [a for a, _ in parts.scripts] == [{"id": "map-data", "type": "application/json"}, {}]
    (_, blob), (_, code) = parts.scripts
    asset = Path(aekit.report.__file__).parent / "assets" / "latent_map.js"
    assert code == asset.read_text(encoding="utf-8")
    data = json.loads(blob)
    clean = [s.replace("\ud800", "\ufffd") for s in labels]  # what UTF-8 can carry
    assert data["labels"] == [clean[i] for i in data["ids"]]
    assert {text for text, _ in data["legend"]} == set(clean)
    # Python's html.parser (3.11) does not model the script-data escape states that
    # "<!--<script>" triggers in a browser, so the text is also checked for what the HTML
    # parser reacts to: nothing at all, the JSON holding no "<", ">", "&" or U+2028/9.
    assert re.search("[<>&\u2028\u2029]", blob) is None
    for _, text in parts.scripts:
        assert ELEMENT_BREAKERS.search(text) is None
    # The title and the data's name are escaped text, not markup.
    assert "<title>&lt;!--&lt;script&gt;</title>" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_policy_allows_exactly_the_pages_own_inline_scripts_and_styles(hostile_page) -> None:
    page, _ = hostile_page
    parts = PageParts(page)
    rules = policy(page)
    # Data blocks (type application/json) never run; every other script is listed by hash.
    code = [text for attrs, text in parts.scripts if attrs.get("type") != "application/json"]
    assert len(code) == 1
    assert sorted(rules["script-src"]) == sorted(map(sha256_source, code))
    assert sorted(rules["style-src"]) == sorted(map(sha256_source, parts.styles))
    assert "'unsafe-inline'" not in page and "'unsafe-eval'" not in page
    assert rules["default-src"] == ["'none'"] and rules["img-src"] == ["data:"]
    # Inline style and event attributes would be refused by this policy: the page has none.
    assert parts.inline_attributes == []


def test_policy_of_a_page_without_a_map_allows_no_script(ae) -> None:
    page = build_report(ae)
    assert PageParts(page).scripts == []
    assert policy(page)["script-src"] == ["'none'"]


def test_inline_assets_cannot_end_their_element() -> None:
    assets = Path(aekit.report.__file__).parent / "assets"
    for name in ("latent_map.js", "report.css"):
        assert ELEMENT_BREAKERS.search((assets / name).read_text(encoding="utf-8")) is None


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.text() | st.integers() | st.none(), lambda c: st.lists(c, max_size=4)))
def test_json_for_html_reads_back_and_holds_nothing_html_sees(value) -> None:
    text = json_for_html(value)
    assert json.loads(text) == value
    assert text.isascii() and re.search("[<>&]", text) is None


def test_map_data_stays_valid_json_with_non_finite_values() -> None:
    # A detector scores a row it cannot score +inf (and NaN may reach a reconstruction);
    # JSON has no such numbers, and JSON.parse would refuse the whole map.
    rng = np.random.default_rng(0)
    codes, items = rng.normal(size=(30, 3)), rng.normal(size=(30, 4))
    recon = items.copy()
    recon[1] = np.nan
    values = rng.random(30)
    values[0], values[2] = np.inf, np.nan
    scores = rng.random(30)
    scores[3] = np.inf
    data = map_payload(
        codes, items, recon, scores, values, "anomaly score", np.arange(30), None, "pca", 0
    )
    json.dumps(data, allow_nan=False)  # raises on a non-finite number
    assert data["values"][0] == "inf" and data["values"][2] == "nan"
    assert data["scores"][3] == "inf" and data["colors"][3] == data["legend"][1][1]
    assert np.isfinite(data["range"]).all()


# ------------------------------------------------------------------- where the report goes
def test_report_output_is_refused_before_any_work(ae, digits, tmp_path, monkeypatch) -> None:
    from aekit.report import build as build_module

    model_dir = ae.save(tmp_path / "model")
    config = (model_dir / "config.json").read_bytes()

    def no_work(*args, **kwargs):
        raise AssertionError("the report was built before its output was checked")

    monkeypatch.setattr(build_module, "build_report", no_work)
    with pytest.raises(ValueError, match="is a directory"):
        write_report(ae, tmp_path, digits[0])
    for inside in (model_dir / "config.json", model_dir / "sub" / "r.html"):
        with pytest.raises(ValueError, match="inside the model directory"):
            write_report(model_dir, inside)
    # Through a link, and when the model is an estimator loaded from that directory.
    link = tmp_path / "link.html"
    link.symlink_to(model_dir / "config.json")
    with pytest.raises(ValueError, match="inside the model directory"):
        write_report(ae, link, path=model_dir)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        write_report(ae, tmp_path / "file" / "r.html")
    assert (model_dir / "config.json").read_bytes() == config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "link.html", "model"]
    # What may be written: the model's own report.html (the default), anything outside.
    assert check_report_output(model_dir / "report.html", model_dir) == model_dir / "report.html"
    assert check_report_output(tmp_path / "new" / "r.html", model_dir) == tmp_path / "new/r.html"


def test_report_is_written_atomically(ae, tmp_path, monkeypatch) -> None:
    out = write_report(ae, tmp_path / "report.html")
    before = out.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    # A write that fails at the disk leaves the old report whole, and nothing beside it.
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_report(ae, out, title="new")
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_report_command_refuses_an_output_inside_the_model(ae, tmp_path, capsys) -> None:
    model_dir = ae.save(tmp_path / "model")
    config = (model_dir / "config.json").read_bytes()
    for out in (model_dir / "config.json", model_dir / "other.html"):
        rc, _, err = run_cli(["report", model_dir, "--out", out], capsys)
        assert_user_error(rc, err, "report")
    assert "lies inside" in err
    assert (model_dir / "config.json").read_bytes() == config
    assert not (model_dir / "other.html").exists()

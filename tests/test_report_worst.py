"""The report's "Worst rows" section: a detector's highest-scoring samples (steps of a
series) and what explains their scores, and ``plot.explanation`` that draws an image's."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import aekit
from aekit import AnomalyDetector, Autoencoder, plot
from aekit.report import build as build_module
from aekit.report import build_report

FAST = {"random_state": 0, "verbose": False, "n_estimators": 2}
NAMES = ["a", "b", "c", "<b>x</b>", "d"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


def worst(page: str) -> tuple[list[str], list[list[str]]]:
    """The section's table: its heading cells and the cells of each row."""
    match = re.search(r'<section id="worst">(.*?)</section>', page, re.S)
    assert match, "the report has no worst-rows section"
    head = re.findall(r"<th>(.*?)</th>", match.group(1))
    rows = [
        re.findall(r"<td[^>]*>(.*?)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", match.group(1).split("<tbody>")[1])
    ]
    return head, rows


@pytest.fixture(scope="module")
def table() -> tuple[AnomalyDetector, np.ndarray]:
    """A detector of five correlated columns (the last in thousands), and data with an
    injected value in column d (row 5) and in the hostile-named column 3 (row 17)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5))
    X[:, 4] *= 1000
    det = AnomalyDetector(epochs=10, **FAST).fit(X)
    test = X.copy()
    test[5, 4] += 8 * X[:, 4].std()
    test[17, 3] += 8 * X[:, 3].std()
    return det, test


def test_table_lists_the_highest_scores_with_their_leading_features(table) -> None:
    det, X = table
    ids = [f"r{i}" for i in range(len(X))]
    labels = np.zeros(len(X), dtype=int)
    labels[[5, 17]] = 1
    page = build_report(det, X, labels, ids=ids, feature_names=NAMES)
    assert '<a href="#worst">Worst rows</a>' in page
    head, rows = worst(page)
    assert head == [
        "row",
        "id",
        "score",
        "outlier probability",
        "label",
        "explained by (share of the score)",
    ]
    scores = det.decision_function(X)
    expected = np.argsort(-scores, kind="stable")[:10]
    assert [int(r[0]) for r in rows] == expected.tolist()
    assert {int(rows[0][0]), int(rows[1][0])} == {5, 17}  # the injected rows lead
    proba = det.predict_proba(X)[:, 1]
    for (_, name, score, outlier, label, _text), i in zip(rows, expected, strict=True):
        assert name == f"r{i}"
        assert score == f"{scores[i]:,.4g}"
        assert float(outlier) == pytest.approx(proba[i], abs=5e-4)  # 3 decimals on the page
        assert label == str(labels[i])
    assert float(rows[0][3]) > 0.5 and float(rows[1][3]) > 0.5  # above the threshold
    # The explanation is explain()'s on the row: the injected column first, with its share
    # and its residual in the data's units (thousands for d).
    texts = {int(r[0]): html.unescape(r[-1]) for r in rows}
    for i, column in ((5, 4), (17, 3)):
        found = det.explain(X[[i]])
        order = np.argsort(-found.shares[0], kind="stable")[:3]
        assert order[0] == column
        assert texts[i] == "; ".join(
            f"{NAMES[j]} ({found.shares[0, j]:.2f}, residual {found.residuals[0, j]:+.2g})"
            for j in order
        )
    assert texts[5].startswith("d (")
    assert det.explain(X[[5]]).residuals[0, 4] > 4 * X[:, 4].std()  # thousands, not sds
    assert texts[17].startswith("<b>x</b> (")
    # The hostile column name is escaped, here and everywhere else on the page.
    assert "&lt;b&gt;x&lt;/b&gt; (" in page and "<b>x</b>" not in page


def test_table_without_names_ids_or_labels_uses_the_detectors(table) -> None:
    det, X = table
    head, rows = worst(build_report(det, X[:4]))  # fewer rows than the section shows
    assert head == ["row", "score", "outlier probability", "explained by (share of the score)"]
    expected = np.argsort(-det.decision_function(X[:4]), kind="stable")
    assert [int(r[0]) for r in rows] == expected.tolist()
    assert all(
        re.fullmatch(r"(x[0-4] \(\d\.\d\d, residual [+-][^)]+\)(; )?){3}", r[-1]) for r in rows
    )


def test_an_unscorable_row_comes_first_and_is_not_explained() -> None:
    # Values beyond float32 once scaled have no score (+inf) and no shares. The rest of the
    # page (the latent map's codes) refuses such a row, so the section is built alone.
    X = np.random.default_rng(1).normal(size=(200, 4)) * 1e-3
    det = AnomalyDetector(epochs=3, **FAST).fit(X)
    data = np.vstack([X[:5], np.full((1, 4), 1e37)])
    section = build_module._worst_section(build_module._context(det, data))
    _, rows = worst(section)
    assert [r[0] for r in rows][:1] == ["5"] and len(rows) == 6
    assert rows[0][1:] == [
        "inf",
        "1.000",
        "nothing: no score (its values leave float32&#x27;s range)",
    ]
    assert all(r[-1].startswith("x") for r in rows[1:])


def test_images_get_their_heat_maps_beside_them(monkeypatch) -> None:
    X, _ = aekit.datasets.load_digits()
    X = X[:200]
    det = AnomalyDetector(epochs=5, **FAST).fit(X)
    test = X.copy()
    test[3, 1:3, 1:3] = X.max()  # a bright patch where digits have none
    drawn = []

    def spy(images, shares, **kwargs):
        drawn.append((np.asarray(images), np.asarray(shares), kwargs))
        fig = real(images, shares, **kwargs)
        drawn.append(fig)
        return fig

    real = plot.explanation
    monkeypatch.setattr(plot, "explanation", spy)
    page = build_report(det, test, max_points=50)
    _, rows = worst(page)
    scores = det.decision_function(test)
    expected = np.argsort(-scores, kind="stable")[:10]
    assert [int(r[0]) for r in rows] == expected.tolist() and expected[0] == 3
    # The injected image's leading pixels lie in its patch.
    pixels = re.findall(r"x\[(\d), (\d)\]", rows[0][-1])
    assert len(pixels) == 3 and all(1 <= int(r) <= 2 and 1 <= int(c) <= 2 for r, c in pixels[:2])
    (images, shares, kwargs), fig = drawn
    np.testing.assert_array_equal(images, test[expected])
    np.testing.assert_allclose(shares, det.explain(test[expected]).shares, rtol=1e-6)
    np.testing.assert_allclose(kwargs["scores"], scores[expected])
    assert len(fig.axes) == 2 * 10
    heat = fig.axes[10].images[0].get_array()
    np.testing.assert_allclose(heat, shares[0], rtol=1e-6)  # the worst image's heat map
    section = re.search(r'<section id="worst">.*?</section>', page, re.S).group(0)
    assert section.count('src="data:image/png;base64,') == 1
    assert "each pixel&#x27;s share" in section


def test_series_lists_the_steps_inside_an_injected_burst() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(1000)
    series = np.sin(2 * np.pi * t / 40) + 0.05 * rng.normal(size=1000)
    det = AnomalyDetector(window=20, epochs=5, **FAST).fit(series[:600])
    test = series.copy()
    test[700:715] += 2.0
    labels = ((t >= 700) & (t < 715)).astype(int)
    page = build_report(det, test, labels, max_points=100)
    head, rows = worst(page)
    assert head[0] == "step" and "label" in head
    scores = det.decision_function(test)
    expected = np.argsort(-scores, kind="stable")[:10]
    assert [int(r[0]) for r in rows] == expected.tolist()
    assert all(690 <= step < 725 for step in expected)
    for row in rows:
        steps = [int(s) for s in re.findall(r"step (\d+) \(", row[-1])]
        assert len(steps) == 3 and all(700 <= s < 715 for s in steps)  # inside the burst
        step = int(row[0])
        assert row[-2] == str(labels[step])
    # The shares are those of the windows behind the step, from explain() of the series.
    weight = det.explain(test).contributions.sum(1)
    step = int(rows[0][0])
    span = weight[step - 19 : step + 20]
    first = re.match(r"step (\d+) \((\d\.\d\d)\)", rows[0][-1])
    assert first and float(first.group(2)) == pytest.approx(span.max() / span.sum(), abs=5e-3)


def test_other_models_and_pages_without_data_have_no_worst_rows(table) -> None:
    det, X = table
    ae = Autoencoder(latent_dim=2, epochs=2, random_state=0, verbose=False).fit(X)
    for page in (build_report(ae, X), build_report(det)):
        assert 'id="worst"' not in page and "#worst" not in page


# ------------------------------------------------------------------------ plot.explanation
def test_explanation_figure_puts_each_image_above_its_heat_map() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((3, 4, 6))
    shares = rng.random((3, 4, 6))
    shares[2] = np.nan  # a sample without a score: a blank heat map
    fig = plot.explanation(
        images.reshape(3, -1), shares, scores=[9.5, 7.25, np.inf], image_shape=(4, 6)
    )
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["score 9.5", "score 7.25", "score inf"]
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), images[0], rtol=1e-6)
    np.testing.assert_allclose(fig.axes[4].images[0].get_array(), shares[1])
    assert fig.axes[4].images[0].get_clim() == (0.0, pytest.approx(shares[1].max()))
    assert fig.axes[3].get_ylabel() == "share of score"
    one = plot.explanation(images[:1], shares[:1], title="one")
    assert len(one.axes) == 2 and one.axes[0].get_title() == ""


def test_explanation_figure_checks_its_input() -> None:
    images = np.zeros((2, 4, 4))
    with pytest.raises(ValueError, match="one value per pixel of the 2 images"):
        plot.explanation(images, np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match="finite and >= 0"):
        plot.explanation(images, -np.ones((2, 4, 4)))
    with pytest.raises(ValueError, match=r"one score per image \(2\)"):
        plot.explanation(images, np.zeros((2, 4, 4)), scores=[1.0])
    with pytest.raises(ValueError, match="no images"):
        plot.explanation(np.zeros((0, 4, 4)), np.zeros((0, 4, 4)))

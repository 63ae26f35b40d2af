"""The report's structure: sections, plots and metrics come from registries, every costly
quantity is computed once per page, and the estimator's declared capabilities (not the
methods it happens to have) decide what is shown."""

from __future__ import annotations

import re

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import aekit
from aekit import VAE, AnomalyDetector, Autoencoder
from aekit.report import build as build_module
from aekit.report import build_report
from test_report import figure_titles, metric, payload

FAST = {"random_state": 0, "verbose": False, "epochs": 3}


class NoReconstruct(Autoencoder):
    """An autoencoder that does not declare "reconstruct" (it still has the methods)."""

    capabilities = Autoencoder.capabilities - {"reconstruct"}


class NoGenerate(VAE):
    capabilities = VAE.capabilities - {"generate"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = aekit.datasets.load_digits()
    return X[:200], y[:200]


@pytest.fixture(scope="module")
def ae(digits) -> Autoencoder:
    return Autoencoder(latent_dim=3, **FAST).fit(digits[0])


def nav(page: str) -> list[str]:
    return re.findall(r'<a href="#([^"]+)">', page.split("<nav>")[1].split("</nav>")[0])


def sections(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', page)


# ---------------------------------------------------------------------------- the registry
def test_the_registries_make_the_page(ae, digits, monkeypatch) -> None:
    from matplotlib.figure import Figure

    X, y = digits

    def never(ctx):
        raise AssertionError("a section that does not apply was rendered")

    notes = build_module.Section(
        "notes",
        "Notes",
        lambda ctx: True,
        lambda ctx: f'<section id="notes"><h2>Notes</h2><p>{len(ctx.X)} rows</p></section>',
    )
    absent = build_module.Section("absent", "Absent", lambda ctx: False, never)
    sections_before = list(build_module.SECTIONS)
    monkeypatch.setattr(
        build_module, "SECTIONS", [sections_before[0], notes, absent, *sections_before[1:]]
    )
    tiny = build_module.Plot(
        "Tiny", lambda ctx: "a blank figure", lambda ctx: True, lambda ctx: Figure((2, 1))
    )
    skipped = build_module.Plot("Skipped", lambda ctx: "", lambda ctx: False, never)
    monkeypatch.setattr(build_module, "PLOTS", [*build_module.PLOTS, tiny, skipped])
    rows = build_module.Metric(lambda ctx: True, lambda ctx: [("codes", str(ctx.codes.shape))])
    monkeypatch.setattr(build_module, "METRICS", [*build_module.METRICS, rows])

    page = build_report(ae, X, y)
    assert sections(page) == ["model", "notes", "data", "metrics", "latent-map", "figures"]
    assert nav(page) == ["model", "notes", "data", "metrics", "latent-map", "figures"]
    assert "<p>200 rows</p>" in page and "absent" not in page.lower()
    assert figure_titles(page) == [
        "Training curves",
        "Reconstructions",
        "Learned features",
        "Similar items",
        "Tiny",
    ]
    assert metric(page, "codes") == "(200, 3)"


def test_a_section_that_renders_nothing_is_left_out(ae, monkeypatch) -> None:
    # Without data the page has no metrics; without plots, no figures section nor its link.
    monkeypatch.setattr(build_module, "PLOTS", [])
    page = build_report(ae)
    assert sections(page) == ["model", "data"]
    assert nav(page) == ["model", "data"]
    assert "No data given" in page


# ------------------------------------------------------------------------- computed once
def counting(monkeypatch, estimator, *names: str) -> dict[str, list[int]]:
    """Wrap the estimator's methods ``names`` to record the rows of every call."""
    calls: dict[str, list[int]] = {name: [] for name in names}
    for name in names:
        method = getattr(estimator, name)

        def counted(X, *args, _method=method, _name=name, **kwargs):
            calls[_name].append(len(np.asarray(X)))
            return _method(X, *args, **kwargs)

        monkeypatch.setattr(estimator, name, counted)
    return calls


def test_an_autoencoder_report_runs_each_pass_once(ae, digits, monkeypatch) -> None:
    X, y = digits
    calls = counting(monkeypatch, ae, "transform", "reconstruct", "reconstruction_error")
    searches = []
    real = build_module.neighbours

    def neighbours(codes, *args):
        searches.append(len(codes))
        return real(codes, *args)

    monkeypatch.setattr(build_module, "neighbours", neighbours)
    monkeypatch.setattr(aekit.report.latent_map, "neighbours", neighbours)
    page = build_report(ae, X, y, max_points=150)
    # Once over the data each: the metrics, the map's previews and the figure's strip are
    # parts of one reconstruction; the map's errors are of its 150 points.
    assert calls == {"transform": [200], "reconstruct": [200], "reconstruction_error": [150]}
    assert searches == [150]
    assert figure_titles(page) == [
        "Training curves",
        "Reconstructions",
        "Learned features",
        "Similar items",
    ]
    # What the page shows is what the model gives for those samples.
    data = payload(page)
    expected = ae.reconstruction_error(X[data["ids"]])
    np.testing.assert_allclose(data["values"], expected, rtol=1e-3)  # 4 digits on the page


def test_a_large_x_is_never_reconstructed_whole(ae, digits, monkeypatch) -> None:
    # Beyond MAX_METRIC_SAMPLES rows, only the measured ones, the map's and the figures'.
    X, y = digits
    monkeypatch.setattr(build_module, "MAX_METRIC_SAMPLES", 50)
    calls = counting(monkeypatch, ae, "reconstruct")
    page = build_report(ae, X, y, max_points=60)
    assert calls["reconstruct"][0] >= 50 and sum(calls["reconstruct"]) < 50 + 60 + 12
    assert "a random 50 of the data" in page


def test_a_vae_and_a_detector_report_run_each_pass_once(digits, monkeypatch) -> None:
    X, y = digits
    vae = VAE(latent_dim=2, **FAST).fit(X)
    calls = counting(monkeypatch, vae, "transform", "reconstruct", "elbo")
    page = build_report(vae, X, y)
    # interpolate encodes its two ends, one sample each.
    assert calls == {"transform": [200, 1, 1], "reconstruct": [200], "elbo": [200]}
    assert "Interpolation" in figure_titles(page)

    det = AnomalyDetector(n_estimators=2, **FAST).fit(X)
    calls = counting(monkeypatch, det, "transform", "decision_function")
    page = build_report(det, X, (y == 0).astype(int))
    assert calls == {"transform": [200], "decision_function": [200]}
    assert metric(page, "ROC-AUC against the labels")


# ------------------------------------------------------------------------ capabilities
def test_declared_capabilities_decide_what_is_shown(digits, monkeypatch) -> None:
    X, y = digits
    model = NoReconstruct(latent_dim=3, **FAST).fit(X)
    assert hasattr(model, "reconstruct")  # the method is there; the declaration is not

    def refused(*args, **kwargs):
        raise AssertionError("the report reconstructed without the capability")

    monkeypatch.setattr(model, "reconstruct", refused)
    monkeypatch.setattr(model, "reconstruction_error", refused)
    page = build_report(model, X, y)
    assert "reconstruction error" not in page
    assert sections(page) == ["model", "data", "latent-map", "figures"]  # no metrics left
    assert figure_titles(page) == ["Training curves", "Learned features", "Similar items"]
    data = payload(page)
    assert data["recon"] is None and data["values"] is None and data["value_name"] == ""

    vae = NoGenerate(latent_dim=2, **FAST).fit(X)
    titles = figure_titles(build_report(vae, X, y))
    assert "Samples" not in titles and "Interpolation" not in titles
    assert titles[:2] == ["Training curves", "Reconstructions"]


def test_the_context_reads_the_estimator_declarations(ae, digits) -> None:
    X, y = digits
    ctx = build_module._context(ae, X, y)
    assert ctx.capabilities == frozenset({"encode", "reconstruct"})
    assert ctx.image_shape == (8, 8) and not ctx.is_table and ctx.signal_layout is None
    assert ctx.codes is ctx.codes  # cached: one array, whoever asks
    assert ctx.latent_map.payload["k"] == 8

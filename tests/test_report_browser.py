"""The demo's report in a real browser: headless Chromium (Debian's `chromium` package, which
`.ci/run` installs), driven by Playwright's Python package through ``executable_path``.

Locally the test is skipped when Chromium or Playwright is missing; in CI (``CI=true``) it
fails instead. Screenshots go to ``artifacts/`` (or ``$AEKIT_ARTIFACTS``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("AEKIT_ARTIFACTS", REPO / "artifacts"))
# Flags of a quiet headless run on a machine without network: no background connections, no
# sandbox (CI runs as root), no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser test (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    executable = os.environ.get("AEKIT_CHROMIUM") or shutil.which("chromium")
    if not executable:
        _missing("no chromium executable (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageLog:
    """What a page did: console errors, uncaught exceptions, every request it made."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed request: {r.url}"))
        page.on("request", lambda r: self.requests.append(r.url))


def _open(browser: Any, report: Path, **context: Any) -> tuple[Any, Any, PageLog]:
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    log = PageLog(page)
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-map-ready='true']", state="attached", timeout=30_000)
    return ctx, page, log


def _painted(page: Any, selector: str) -> int:
    """Non-white pixels of a canvas: zero when nothing was drawn on it."""
    return page.evaluate(
        """(selector) => {
            const c = document.querySelector(selector);
            const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < px.length; i += 4)
                if (px[i + 3] > 0 && (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250)) n++;
            return n;
        }""",
        selector,
    )


def _exposed(page: Any, count: int) -> list[str]:
    """``data-i`` of ``count`` points that no other point covers at their centre (points
    overlap where the map is dense, and a pointer there reaches the one on top)."""
    page.locator("#map").scroll_into_view_if_needed()
    return page.evaluate(
        """(count) => {
            const out = [];
            for (const c of document.querySelectorAll("#map circle")) {
                const r = c.getBoundingClientRect();
                const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                if (hit === c) out.push(c.dataset.i);
                if (out.length === count) break;
            }
            return out;
        }""",
        count,
    )


def _assert_self_contained(log: PageLog, report: Path) -> None:
    assert log.errors == [], log.errors
    leaving = [u for u in log.requests if u != report.as_uri() and not u.startswith("data:")]
    assert leaving == [], f"requests beyond the file: {leaving}"


def test_demo_report_in_chromium(browser, demo_run) -> None:
    _, _, out_dir, result = demo_run
    report = result.files["report"]
    assert report == out_dir / "report.html"
    ctx, page, log = _open(browser, report, viewport={"width": 1280, "height": 900})
    try:
        # Every inlined figure decoded.
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(widths) >= 4 and all(w > 0 for w in widths), widths
        n_points = page.locator("#map circle").count()
        assert n_points == 360  # every held-out test digit
        assert page.locator("#preview").is_hidden()

        first, second = _exposed(page, 2)
        page.hover(f"#map circle[data-i='{first}']")
        preview = page.locator("#preview")
        preview.wait_for(state="visible", timeout=5_000)
        assert page.inner_text("#preview-title").startswith(f"sample #{first} · label ")
        assert _painted(page, "#preview-item") > 0
        assert _painted(page, "#preview-recon") > 0
        page.hover(f"#map circle[data-i='{second}']")
        assert page.inner_text("#preview-title").startswith(f"sample #{second} ")

        page.click(f"#map circle[data-i='{second}']")
        page.locator("#neighbours").wait_for(state="visible", timeout=5_000)
        neighbours = page.locator("#neighbours-list figure")
        assert neighbours.count() == 8
        assert page.locator("#map circle.selected").get_attribute("data-i") == second
        assert _painted(page, "#neighbours-list figure:first-child canvas") > 0

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "report-demo.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        _assert_self_contained(log, report)
    finally:
        ctx.close()


def test_demo_report_on_a_phone(browser, demo_run) -> None:
    report = demo_run[3].files["report"]
    phone = {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    }
    ctx, page, log = _open(browser, report, **phone)
    try:
        # Nothing wider than the screen: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#map").bounding_box()
        assert box is not None and 300 <= box["width"] <= 390
        (point,) = _exposed(page, 1)
        page.tap(f"#map circle[data-i='{point}']")
        page.locator("#preview").wait_for(state="visible", timeout=5_000)
        assert page.inner_text("#preview-title").startswith(f"sample #{point} ")
        page.locator("#neighbours").wait_for(state="visible", timeout=5_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-demo-phone.png"))
        _assert_self_contained(log, report)
    finally:
        ctx.close()


# Labels that once ended or hid the page's own script; see test_report.py.
HOSTILE = [
    "<!--<script>",
    "</script><script>document.body.dataset.pwned='1'</script>",
    "]]>",
    "\"double\" 'single'",
    "line\u2028separator",
    '<img src=x onerror="document.body.dataset.pwned=1">',
]


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    import numpy as np

    from aekit import Autoencoder
    from aekit.datasets import load_digits
    from aekit.report import write_report

    X, _ = load_digits()
    X = X[:120]
    labels = np.array([HOSTILE[i % len(HOSTILE)] for i in range(len(X))])
    ae = Autoencoder(latent_dim=2, epochs=3, random_state=0, verbose=False).fit(X)
    out = tmp_path_factory.mktemp("hostile") / "report.html"
    return write_report(ae, out, X, labels, title=HOSTILE[0]), list(labels)


def test_hostile_labels_leave_the_map_working(browser, hostile_report) -> None:
    report, labels = hostile_report
    ctx, page, log = _open(browser, report, viewport={"width": 1280, "height": 900})
    try:
        assert page.locator("#map circle").count() == len(labels)
        (point,) = _exposed(page, 1)
        page.hover(f"#map circle[data-i='{point}']")
        page.locator("#preview").wait_for(state="visible", timeout=5_000)
        title = page.evaluate("document.getElementById('preview-title').textContent")
        assert f" · label {labels[int(point)]} · " in title, title
        legend = page.eval_on_selector_all(".legend span", "s => s.map(e => e.textContent)")
        assert sorted(legend) == sorted(set(labels))
        assert page.evaluate("document.body.dataset.pwned") is None
        _assert_self_contained(log, report)
    finally:
        ctx.close()


def test_policy_refuses_a_script_that_was_not_written_by_the_report(
    browser, hostile_report, tmp_path
) -> None:
    # Were some text ever to slip past the escaping, the policy's hashes still refuse it.
    report, _ = hostile_report
    page_text = report.read_text(encoding="utf-8")
    injected = "<script>document.body.dataset.pwned='1'</script></body>"
    tampered = tmp_path / "tampered.html"
    tampered.write_text(page_text.replace("</body>", injected, 1), encoding="utf-8")
    ctx, page, log = _open(browser, tampered)
    try:
        assert page.evaluate("document.body.dataset.pwned") is None
        assert any("Content Security Policy" in e for e in log.errors), log.errors
    finally:
        ctx.close()

"""The HTML report opened in headless Chromium: it draws, and its self-check script says "ok".

Skipped only when no Chromium binary is on PATH (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from genepool.report import render_report, write_report
from genepool.report._example import example_data

SECTIONS = [
    "verdict",
    "walk-forward",
    "equity",
    "trades",
    "hall-of-fame",
    "convergence",
    "parameters",
    "memory",
    "configuration",
]
TIMEOUT_S = 180


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium or chromium-browser on PATH "
    "(Debian: apt-get install chromium; .ci/run installs it)",
)


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``page`` with a throw-away profile."""
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = example_data(21, bars_in=20_000, bars_out=5_000, population=2_000, trades=800)
    # Escaped, this is text; if it ever ran, <body> would get data-injected.
    data = dataclasses.replace(
        data, title='<script>document.body.dataset.injected = "yes"</script> rsi & co'
    )
    return write_report(data, tmp_path_factory.mktemp("report") / "report.html")


def test_screenshot_is_drawn(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,6000")
    assert shot.is_file() and shot.stat().st_size > 50_000
    try:
        from PIL import Image

        with Image.open(shot) as im:
            rgb = np.asarray(im.convert("RGB"))
    except ImportError:  # matplotlib reads PNG too
        import matplotlib.image

        rgb = (matplotlib.image.imread(shot)[..., :3] * 255).round().astype(np.uint8)
    height, width, _ = rgb.shape
    assert width >= 1000 and height >= 3000
    pixels = rgb[::2, ::2].astype(np.float32) / 255
    assert pixels.std() > 0.05, "the screenshot is a single flat colour"
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8)
    colours = np.unique(packed | rgb[..., 2])
    assert len(colours) > 100
    # not just a header: the second quarter of the page (figures) is drawn too
    quarter = pixels.shape[0] // 4
    assert pixels[quarter : 2 * quarter].std() > 0.05


def test_dom_has_every_section_and_the_check_passes(report: Path, tmp_path: Path) -> None:
    dom = chromium(report, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom").stdout
    ids = re.findall(r'<section id="([^"]+)"', dom)
    assert ids == SECTIONS
    check = re.search(r'data-report-check="([^"]*)"', dom)
    assert check is not None, "the self-check script did not run"
    assert check.group(1) == "ok"
    assert "Self-check: ok (9 sections, 5 figures)." in dom
    assert "data-injected" not in dom
    assert "&lt;script&gt;document.body.dataset.injected" in dom


def test_check_script_reports_broken_reports(report: Path, tmp_path: Path) -> None:
    html = report.read_text(encoding="utf-8")
    # one figure that does not decode and one section gone
    broken = html.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1)
    broken = re.sub(r'<section id="trades">.*?</section>', "", broken, flags=re.S)
    assert broken != html
    page = tmp_path / "broken.html"
    page.write_text(broken, encoding="utf-8")
    dom = chromium(page, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom").stdout
    check = re.search(r'data-report-check="([^"]*)"', dom)
    assert check is not None
    assert check.group(1).startswith("failed:")
    assert "missing section trades" in check.group(1)
    assert "figure 1 did not load" in check.group(1)


def test_report_without_walk_forward_or_out_of_sample(tmp_path: Path) -> None:
    data = example_data(22, bars_out=0, walk_forward=False, memory=False, trades=0)
    page = tmp_path / "small.html"
    page.write_text(render_report(data), encoding="utf-8")
    dom = chromium(page, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom").stdout
    assert re.findall(r'<section id="([^"]+)"', dom) == [
        s for s in SECTIONS if s != "walk-forward"
    ]
    assert 'data-report-check="ok"' in dom


# The report inside an <iframe> of the given width (headless Chromium has no window narrower
# than 500 px); a probe measures the page and every section as laid out.
_FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="%(page)s" style="width:%(width)dpx;height:900px;border:0"></iframe>
<script>
document.getElementById("f").addEventListener("load", function () {
  var w = this.contentWindow, doc = w.document, vw = w.innerWidth, bad = [];
  var sw = doc.documentElement.scrollWidth;
  if (sw > vw) { bad.push("page is " + sw + " px wide"); }
  doc.querySelectorAll("header, nav, main > section, main img").forEach(function (el) {
    var r = el.getBoundingClientRect(), name = el.id || el.tagName.toLowerCase();
    if (!(r.width > 0 && r.height > 0)) { bad.push(name + " is not visible"); }
    if (r.right > vw + 0.5) { bad.push(name + " ends at " + Math.round(r.right) + " px"); }
  });
  document.body.dataset.layout = bad.length ? bad.join("; ") : "ok " + vw;
  document.body.dataset.check = doc.body.dataset.reportCheck || "did not run";
});
</script></body></html>
"""


@pytest.mark.parametrize("width", [1400, 390])
def test_layout_at_desktop_and_phone_width(report: Path, tmp_path: Path, width: int) -> None:
    page = report.parent / f"frame-{width}.html"
    page.write_text(_FRAME % {"page": report.name, "width": width}, encoding="utf-8")
    dom = chromium(
        page,
        tmp_path / "profile",
        "--allow-file-access-from-files",
        "--window-size=1500,1000",
        "--virtual-time-budget=8000",
        "--dump-dom",
    ).stdout
    layout = re.search(r'data-layout="([^"]*)"', dom)
    assert layout is not None, "the probe did not run"
    assert layout.group(1) == f"ok {width}"  # no horizontal overflow, every section shown
    assert 'data-check="ok"' in dom


def test_check_fails_when_header_and_plots_disagree(tmp_path: Path) -> None:
    data = example_data(23, generations=6, trades=30)
    split = data.equity_out.index[0]
    good = dataclasses.replace(data, facts={"generations": 6, "folds": 5, "split": split})
    bad = dataclasses.replace(data, facts={"generations": 40, "folds": 4, "split": split})
    results = {}
    for name, d in (("good", good), ("bad", bad)):
        page = tmp_path / f"{name}.html"
        page.write_text(render_report(d), encoding="utf-8")
        dom = chromium(page, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom")
        check = re.search(r'data-report-check="([^"]*)"', dom.stdout)
        assert check is not None
        results[name] = check.group(1)
    assert results["good"] == "ok"
    assert results["bad"].startswith("failed:")
    assert "header says generations 40 but the convergence plot shows 6" in results["bad"]
    assert "header says folds 4 but the walk-forward figure shows 5" in results["bad"]

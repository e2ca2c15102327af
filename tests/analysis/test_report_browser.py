"""The HTML report as a reader sees it: rendered by headless Chromium (Debian's ``chromium``), every
figure decoded, the verdict on the first screen, and a screenshot kept for a person to look at.
Slow (a browser start): `make test-slow`. Installs nothing; skips when Chromium is absent."""
import json
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from nasbench.report import ReportRequest, build_report

CHROMIUM = Path("/usr/bin/chromium")
SCREEN = (1280, 900)  # a laptop's first screen
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--window-size={SCREEN[0]},{SCREEN[1]}"]
# after load: how many images decoded, and where the verdict's heading and paragraphs sit
PROBE = """<script>window.addEventListener("load", () => {
  const images = [...document.images];
  const heading = [...document.querySelectorAll("h2")].find(h => h.textContent === "Verdict");
  const paras = [];
  // the verdict runs from its heading to the header's list, which opens with the suite version
  for (let e = heading && heading.nextElementSibling; e && !e.textContent.startsWith("suite version");
       e = e.nextElementSibling) paras.push(e);
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({images: images.length,
    decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    heading_top: heading ? heading.getBoundingClientRect().top : null,
    verdict_bottom: paras.length ? paras[paras.length - 1].getBoundingClientRect().bottom : null,
    paragraphs: paras.length, screen: window.innerHeight});
  document.body.appendChild(probe);
});</script>"""

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is absent: `apt-get install -y chromium`")]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"  # a fresh profile per call: no state from an earlier run
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env={"HOME": str(tmp_path)})


@pytest.fixture(scope="module")
def report_html(tmp_path_factory, diverged_study):
    out = tmp_path_factory.mktemp("browser") / "report"
    return build_report(ReportRequest(out, diverged_study, n_boot=50, command="nasbench report diverged"))["html"]


def test_every_figure_loads_and_the_verdict_is_on_the_first_screen(report_html, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(report_html.read_text().replace("</body>", PROBE + "</body>"))
    out = chromium(tmp_path, "--dump-dom", probed.as_uri())
    assert out.returncode == 0, out.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', out.stdout, re.S)
    assert found, "the probe script did not run: " + out.stderr[-1000:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    figures = report_html.read_text().count("<img ")
    assert probe["images"] == figures >= 5 and probe["decoded"] == figures, probe
    assert probe["paragraphs"] >= 5 and 0 <= probe["heading_top"] < probe["verdict_bottom"] <= probe["screen"], probe


def test_screenshot_of_the_first_screen(report_html, tmp_path):
    shot = report_html.parent / "first-screen.png"  # kept beside the report, for a person to look at
    out = chromium(tmp_path, f"--screenshot={shot}", report_html.as_uri())
    assert out.returncode == 0, out.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == SCREEN
        assert len(image.convert("L").getcolors(256)) > 20  # text was drawn, not a blank page

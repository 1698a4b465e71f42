#!/usr/bin/python3
"""cxrmetasink's HTML report opened in a real browser.

The sample films are classified with heatmaps and a threshold of 1, so
that every pneumonia film is called normal and there are mistakes to show,
into report-location; then the page must be self-contained (no script, no
address it would fetch anything from), headless Chromium must render it to
a screenshot that is not blank and that shows the ROC curve's red line, and
the page Chromium built must hold the ROC curve with its operating point,
the reliability diagram, the confusion matrix and one thumbnail per
mistake, each a PNG that decodes.

    test_report.py SOURCE_ROOT BUILD_ROOT

Needs Debian's chromium (skipped without it) and /usr/bin/python3 (PIL).
"""
import base64
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile

from PIL import Image

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402


def main():
    source, build = sys.argv[1:3]
    films = os.path.join(source, "pipelines", "sample-films")
    browser = shutil.which("chromium")
    if browser is None:
        skip("no chromium (Debian package chromium)")
    with tempfile.TemporaryDirectory(prefix="cxr-report-") as tmp:
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"),
                   GST_REGISTRY=os.path.join(tmp, "registry.dat"))
        report = os.path.join(tmp, "report.html")
        subprocess.run(["gst-launch-1.0", "-q", "cxrdatasetsrc", f"location={films}", "!",
                        "cxrclassify", "heatmap=true", "threshold=1", "!",
                        "cxrmetasink", f"location={os.path.join(tmp, 'out.jsonl')}",
                        f"report-location={report}", "print-summary=false"],
                       env=env, check=True)
        html = open(report, encoding="utf-8").read()
        check("no script in the page", "<script" not in html.lower())
        addresses = set(re.findall(r"(?:src|href)=\"([a-z]+:)", html))
        check("nothing fetched from anywhere: every src is a data: URI",
              addresses <= {"data:"}, str(addresses))

        # the browser is not ours: no sanitizer runtime preloaded into it
        # (tests/sanitize.sh preloads one for the pipelines)
        browser_env = {k: v for k, v in os.environ.items()
                       if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
        shot = os.path.join(tmp, "report.png")
        flags = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--window-size=1200,1800", f"--user-data-dir={tmp}/profile"]
        subprocess.run([browser] + flags + [f"--screenshot={shot}", "file://" + report],
                       env=browser_env, capture_output=True, timeout=120, check=True)
        dom = subprocess.run([browser] + flags + ["--dump-dom", "file://" + report],
                             env=browser_env, capture_output=True, text=True, timeout=120,
                             check=True).stdout

        image = Image.open(shot).convert("RGB")
        pixels = list(image.getdata())
        check("a screenshot of 1200x1800", image.size == (1200, 1800), str(image.size))
        check("the screenshot is not blank", len(set(pixels)) > 100,
              f"{len(set(pixels))} colours")
        red = sum(1 for r, g, b in pixels if r > 160 and g < 90 and b < 80)
        check("the ROC curve's red line is on screen", red > 200, f"{red} red pixels")

        for what, pattern in (("the ROC curve", r'<svg id="roc"'),
                              ("its operating point", r'<circle id="operating-point"'),
                              ("the reliability diagram", r'<svg id="reliability"'),
                              ("the reliability bins", r'<rect class="bin"'),
                              ("the confusion matrix", r'<table id="confusion"')):
            check(f"the rendered page holds {what}", re.search(pattern, dom) is not None)
        thumbs = re.findall(r'<img class="thumb"[^>]*src="data:image/png;base64,([^"]+)"', dom)
        check("a thumbnail for each of the 4 pneumonia films called normal",
              len(thumbs) == 4, f"{len(thumbs)} thumbnails")
        sizes = [Image.open(io.BytesIO(base64.b64decode(t))).size for t in thumbs]
        check("each thumbnail is a PNG at most 256 pixels a side",
              all(0 < max(s) <= 256 for s in sizes), str(sizes))
    finish("report")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""How often the shipped model declines to answer: on real chest films (it
should almost never) and on things that are not pediatric chest X-rays (it
should almost always).

Every input goes through a real pipeline ending in cxrclassify and
cxrmetasink, and each result line says whether the frame was answered
("abstained", "reason"). The sets:

  chest films   test_dev (313 films of the official test split) and the 200
                full-resolution films (chest_xray_fullres_sample), through
                cxrdatasetsrc target-size=124
  patterns      every videotestsrc pattern, 3 frames each at 320x240
  DICOM         the DICOM files that pydicom ships as test data (CT, MR,
                ultrasound, RT dose, secondary captures, ...), through
                filesrc ! cxrdicomdec, once with the modality gate
                (cxrclassify's default) and once with it off (modalities=""
                body-parts=""), which leaves the pixels to speak alone;
                files cxrdicomdec cannot decode are counted apart
  drawings      pictures made here with PIL: shapes, text, smooth noise,
                colour gradients and a colour scene, grey and colour

For each set: inputs, frames, the share that abstained and the count by
reason. A benchmark: it prints figures and fails only when a pipeline on
chest films does.

    abstain.py [--model FILE] [--data DIR] [--build DIR]

Run it with /usr/bin/python3 (PIL and numpy; pydicom's test files from
Debian's python3-pydicom, skipped without it). Exits 77 without the data or
gst-launch-1.0.
"""
import argparse
import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATTERNS = ("smpte", "snow", "black", "white", "red", "green", "blue",
            "checkers-1", "checkers-2", "checkers-4", "checkers-8", "circular",
            "blink", "smpte75", "zone-plate", "gamut", "chroma-zone-plate",
            "solid-color", "ball", "smpte100", "bar", "pinwheel", "spokes",
            "gradient", "colors")
PYDICOM_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"


def skip(message):
    print(f"SKIP: {message}")
    sys.exit(77)


def results(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run(env, elements, out, must_work=True):
    """gst-launch-1.0 -q ELEMENTS ! cxrclassify ... ! cxrmetasink; the
    result lines, or None when the pipeline failed and need not work."""
    command = ["gst-launch-1.0", "-q"] + elements + ["!", "cxrmetasink",
                                                     f"location={out}",
                                                     "print-summary=false"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        if must_work:
            sys.exit(f"abstain.py: pipeline failed:\n  {' '.join(command)}\n"
                     f"{done.stdout[-1500:]}{done.stderr[-1500:]}")
        return None
    return results(out)


def report(name, inputs, lines, extra=""):
    reasons = collections.Counter(r["reason"] for r in lines if r["abstained"])
    share = sum(reasons.values()) / len(lines) if lines else float("nan")
    by = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"
    print(f"{name}: {inputs} inputs, {len(lines)} frames, abstained "
          f"{sum(reasons.values())} ({share:.1%}): {by}{extra}")
    return lines


def drawings(folder):
    """Grey and colour pictures that are not X-rays."""
    rng = np.random.default_rng(0)
    os.makedirs(folder)
    for i in range(12):
        img = Image.new("RGB", (400, 300), tuple(int(v) for v in rng.integers(0, 256, 3)))
        d = ImageDraw.Draw(img)
        for _ in range(8):
            x0, y0 = rng.integers(0, 300), rng.integers(0, 200)
            box = [int(x0), int(y0), int(x0 + rng.integers(20, 150)), int(y0 + rng.integers(20, 150))]
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            (d.ellipse if i % 2 else d.rectangle)(box, fill=colour)
        d.text((20, 20), f"drawing {i}", fill=(0, 0, 0))
        img.save(os.path.join(folder, f"shapes{i}.png"))
        img.convert("L").save(os.path.join(folder, f"shapes{i}-grey.png"))
    for i in range(8):
        # smooth noise: a few octaves of upsampled random fields
        field = sum(np.kron(rng.random((3 * 2 ** o, 4 * 2 ** o)),
                            np.ones((100 // 2 ** o, 100 // 2 ** o))) / 2 ** o
                    for o in range(3))
        grey = (255 * (field - field.min()) / np.ptp(field)).astype(np.uint8)
        Image.fromarray(grey).save(os.path.join(folder, f"clouds{i}.png"))
    y, x = np.mgrid[0:240, 0:320]
    for i in range(4):
        rgb = np.stack([(x + 60 * i) % 256, (y * 2) % 256, (x + y) % 256], -1).astype(np.uint8)
        Image.fromarray(rgb).save(os.path.join(folder, f"gradient{i}.jpeg"))
    # a colour "scene": sky, ground, sun
    scene = Image.new("RGB", (480, 320), (110, 160, 230))
    d = ImageDraw.Draw(scene)
    d.rectangle([0, 200, 480, 320], fill=(60, 140, 60))
    d.ellipse([360, 30, 430, 100], fill=(250, 220, 60))
    scene.save(os.path.join(folder, "scene.jpeg"))
    return len(os.listdir(folder))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "default.safetensors"))
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()
    test_dev = os.path.join(args.data, "chest_xray", "test_dev")
    fullres = os.path.join(args.data, "chest_xray_fullres_sample")
    for folder in (test_dev, fullres):
        if not os.path.isdir(folder):
            skip(f"no data folder {folder}")
    if shutil.which("gst-launch-1.0") is None:
        skip("gst-launch-1.0 not found")

    classify = ["cxrclassify", f"model={os.path.abspath(args.model)}"]
    with tempfile.TemporaryDirectory(prefix="cxr-abstain-") as tmp:
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(os.path.abspath(args.build), "plugin"),
                   GST_REGISTRY=os.path.join(tmp, "registry.dat"))
        out = os.path.join(tmp, "out.jsonl")
        print(f"model {os.path.relpath(os.path.abspath(args.model), ROOT)}")

        print("chest films (should be answered):")
        for name, folder in (("test_dev", test_dev), ("fullres_sample", fullres)):
            lines = run(env, ["cxrdatasetsrc", f"location={folder}", "target-size=124",
                              "!"] + classify, out)
            report(f"  {name}", len(lines), lines)

        print("not chest X-rays (should abstain):")
        pattern_lines = []
        for p in PATTERNS:
            pattern_lines += run(env, ["videotestsrc", f"pattern={p}", "num-buffers=3", "!",
                                       "video/x-raw,width=320,height=240", "!",
                                       "videoconvert", "!"] + classify, out)
        report("  videotestsrc patterns", len(PATTERNS), pattern_lines)

        files = sorted(glob.glob(os.path.join(PYDICOM_FILES, "*.dcm")))
        if files:
            for label, gate in (("modality gate on", []),
                                ("modality gate off", ['modalities=""', 'body-parts=""'])):
                lines, failed = [], 0
                for f in files:
                    got = run(env, ["filesrc", f"location={f}", "!", "cxrdicomdec", "!",
                                    "videoconvert", "!"] + classify + gate, out,
                              must_work=False)
                    if got is None:
                        failed += 1
                    else:
                        lines += got
                report(f"  pydicom test files, {label}", len(files) - failed, lines,
                       f" ({failed} files cxrdicomdec does not decode)")
        else:
            print("  pydicom test files: skipped (no python3-pydicom)")

        folder = os.path.join(tmp, "drawings")
        n = drawings(folder)
        lines = run(env, ["cxrdatasetsrc", f"location={folder}", "!"] + classify, out)
        report("  drawings", n, lines)


if __name__ == "__main__":
    main()

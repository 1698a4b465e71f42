#!/usr/bin/python3
"""How much a model's P(PNEUMONIA) moves under changes to the input that
should not matter.

Every film is classified twice, once as it is and once changed, with the
same model, by real gst-cxr pipelines

    gst-launch-1.0 cxrdatasetsrc location=DIR [target-size=124] !
        cxrclassify model=MODEL ! cxrmetasink location=OUT.jsonl

and the two results are paired by the JSON "file" key (the extension left
out, since a changed copy may be a PNG). The changes:

  decode     the full-resolution films (chest_xray_fullres_sample) decoded
             with target-size=124 (libjpeg's DCT scaling, 1/8 ... 1) against
             a full decode (target-size=0)
  jpeg q75   the 224x224 test_dev films re-encoded by PIL as JPEG quality 75
             (same colour mode, PIL's default 4:2:0 subsampling). The
             test_dev files are themselves quality-75 JPEGs with PIL's
             tables, so this re-encoding changes almost no pixel; quality
             50 is measured too, as a re-encoding that does
  png copy   test_dev decoded by PIL and written unchanged as PNG: a control
             that shows how much of the shift figures is PIL's decode and PNG
             alone (0 when the decoders agree)
  shift      test_dev shifted by 2 pixels right and down, and 2 left and up,
             the uncovered border filled by repeating the edge pixels,
             written as PNG (lossless); "either" takes each film's worse
             direction

For each: films paired, max |dP|, 95th percentile (numpy's, interpolated),
median, the number of films with |dP| > 0.1, and the films whose predicted
label (the model's own threshold) changes. The generated folders live in
a temporary directory that is removed at the end. It is a benchmark that
prints figures; it passes whatever they are, and fails only when a pipeline
does.

    stability.py [--model FILE] [--data DIR] [--build DIR] [--precision auto|fp32|bf16]

Defaults: models/default.safetensors, ../shared/data and build, relative to
the repository root (the folder above tests/). Exits 77 (skipped) without
the data or gst-launch-1.0. Run it with /usr/bin/python3 (it needs PIL and
numpy).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
SHIFT = 2
QUALITIES = (75, 50)


def fail(message):
    sys.exit(f"stability.py: {message}")


def skip(message):
    print(f"SKIP: {message}")
    sys.exit(77)


def image_files(folder):
    """Paths relative to folder of every image below it, sorted."""
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, fs in os.walk(folder) for f in fs
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def classify(args, env, folder, out_path, target_size=0):
    """Runs one pipeline over folder; returns {file without extension: (P, label)}."""
    command = ["gst-launch-1.0", "-q",
               "cxrdatasetsrc", f"location={folder}", f"target-size={target_size}", "!",
               "cxrclassify", f"model={args.model}", f"precision={args.precision}", "!",
               "cxrmetasink", f"location={out_path}", "print-summary=false"]
    run = subprocess.run(command, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    if run.returncode != 0:
        fail(f"pipeline failed (exit {run.returncode}) on {folder}:\n"
             f"  {' '.join(command)}\n{run.stdout.strip()}")
    results = {}
    with open(out_path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("file") is None or r.get("probabilities") is None or r.get("stale"):
                fail(f"{out_path}: a frame without a file name or a fresh result: {line}")
            key = os.path.splitext(r["file"])[0]
            if key in results:
                fail(f"{folder}: two files named {key}.*, cannot pair by name")
            results[key] = (r["probabilities"][-1], r["label"], r["model"], r["threshold"])
    expected = len(image_files(folder))
    if len(results) != expected:
        fail(f"{folder}: {len(results)} results for {expected} images")
    return results


def report(name, data, a, b, pixel_change=None):
    """Prints the figures for the pairs a[k], b[k]; returns the |dP| by key
    and the keys whose label changes."""
    if a.keys() != b.keys():
        fail(f"{name}: the two runs cover different files "
             f"({len(a.keys() - b.keys())} and {len(b.keys() - a.keys())} unpaired)")
    keys = sorted(a)
    dp = np.array([abs(a[k][0] - b[k][0]) for k in keys])
    flips = sum(a[k][1] != b[k][1] for k in keys)
    print(f"{name} ({data}, {len(keys)} films): max |dP| {dp.max():.3f}  "
          f"p95 {np.percentile(dp, 95):.3f}  median {np.median(dp):.3f}  "
          f"over 0.1: {int((dp > 0.1).sum())}  label changes: {flips}")
    worst = keys[int(dp.argmax())]
    line = f"    largest: {worst}  P {a[worst][0]:.3f} -> {b[worst][0]:.3f}"
    if pixel_change is not None:
        line += f"; mean |pixel change| {pixel_change:.4f} grey levels"
    print(line)
    return dict(zip(keys, dp)), {k for k in keys if a[k][1] != b[k][1]}


def write_copies(src, dst, change, extension, **save_args):
    """Writes change(image) for every image of src under dst, same subfolders
    and names; returns the mean |pixel change| (0-255) of the files written."""
    changes = []
    for rel in image_files(src):
        with Image.open(os.path.join(src, rel)) as img:
            img.load()
            out = change(img)
        path = os.path.join(dst, os.path.splitext(rel)[0] + extension)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        out.save(path, **save_args)
        with Image.open(path) as written:
            changes.append(np.abs(np.asarray(written, np.float64) - np.asarray(img)).mean())
    return float(np.mean(changes))


def shifted(dy, dx):
    """Shifts an image by (dy, dx) pixels, repeating the edge into the uncovered border."""
    def change(img):
        a = np.asarray(img)
        h, w = a.shape[:2]
        pad = [(max(dy, 0), max(-dy, 0)), (max(dx, 0), max(-dx, 0))] + [(0, 0)] * (a.ndim - 2)
        a = np.pad(a, pad, mode="edge")
        y0, x0 = max(-dy, 0), max(-dx, 0)
        return Image.fromarray(np.ascontiguousarray(a[y0:y0 + h, x0:x0 + w]), img.mode)
    return change


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "default.safetensors"))
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="cxrclassify's arithmetic (auto: its default on this CPU)")
    args = parser.parse_args()
    args.model = os.path.abspath(args.model)

    fullres = os.path.join(args.data, "chest_xray_fullres_sample")
    test_dev = os.path.join(args.data, "chest_xray", "test_dev")
    for folder in (fullres, test_dev):
        if not os.path.isdir(folder):
            skip(f"no data folder {folder}")
    if shutil.which("gst-launch-1.0") is None:
        skip("gst-launch-1.0 not found")
    if not os.path.isfile(args.model):
        fail(f"no model file {args.model}")
    plugin_dir = os.path.join(args.build, "plugin")
    if not os.path.isdir(plugin_dir):
        fail(f"no plugin folder {plugin_dir} (build first, or pass --build)")

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cxr-stability-") as tmp:
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.abspath(plugin_dir),
                   GST_REGISTRY=os.path.join(tmp, "registry.dat"))

        def run(name, folder, target_size=0):
            return classify(args, env, folder, os.path.join(tmp, name + ".jsonl"), target_size)

        full = run("fullres-full", fullres)
        some = next(iter(full.values()))
        print(f"model {os.path.relpath(args.model, ROOT)} (id {some[2]}, "
              f"threshold {some[3]:.3f}, precision {args.precision}), data {os.path.abspath(args.data)}")
        scaled = run("fullres-124", fullres, target_size=124)
        report("decode target-size=124 vs full", "fullres_sample", full, scaled)

        original = run("test_dev", test_dev)
        copies = {f"jpeg-q{q}": (lambda img: img, ".jpeg", {"quality": q}) for q in QUALITIES}
        copies.update({
            "png-copy": (lambda img: img, ".png", {}),
            "shift-down-right": (shifted(SHIFT, SHIFT), ".png", {}),
            "shift-up-left": (shifted(-SHIFT, -SHIFT), ".png", {}),
        })
        results, pixels = {}, {}
        for name, (change, extension, save_args) in copies.items():
            folder = os.path.join(tmp, name)
            pixels[name] = write_copies(test_dev, folder, change, extension, **save_args)
            results[name] = run(name, folder)

        n = len(original)
        for q in QUALITIES:
            report(f"jpeg re-encode q{q} vs original", "test_dev",
                   original, results[f"jpeg-q{q}"], pixels[f"jpeg-q{q}"])
        report("png copy, unchanged, vs original (control)", "test_dev",
               original, results["png-copy"], pixels["png-copy"])
        dp_a, flips_a = report(f"shift {SHIFT} px right+down, PNG, vs original", "test_dev",
                               original, results["shift-down-right"],
                               pixels["shift-down-right"])
        dp_b, flips_b = report(f"shift {SHIFT} px left+up, PNG, vs original", "test_dev",
                               original, results["shift-up-left"], pixels["shift-up-left"])
        dp = np.array([max(dp_a[k], dp_b[k]) for k in dp_a])
        print(f"shift {SHIFT} px, either direction, worse per film (test_dev, {n} films): "
              f"max |dP| {dp.max():.3f}  p95 {np.percentile(dp, 95):.3f}  "
              f"median {np.median(dp):.3f}  over 0.1: {int((dp > 0.1).sum())}  "
              f"label changes: {len(flips_a | flips_b)}")
    print(f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

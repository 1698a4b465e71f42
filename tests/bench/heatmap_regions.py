#!/usr/bin/python3
"""Where the shipped model looks: how its heatmap's mass divides between
the centre of the film, its edges and its corners (where text markers
and the film's border sit), on the validation films carved from the
official train split and on test_dev.

Each film goes through a real pipeline

    gst-launch-1.0 cxrdatasetsrc location=DIR target-size=124 !
        cxrclassify model=MODEL heatmap=true ! cxrmetasink location=OUT.jsonl

and each answered film's map (the "heatmap" of its JSON line, 7x7 for the
default architecture) is divided by its sum (a map that is 0 everywhere,
no place speaking for PNEUMONIA at all, is left out). The regions of the grid: the
centre (all but the outer ring of cells: 25 of 49 cells, 51% of the film),
the edges (the outer ring without its corners: 20 cells, 41%) and the
corners (the four corner cells, 8%). The validation films are the ones
cxrtrain held out when it trained the model: the patient-wise split of
kernels/train/trainer.h for the model's seed and cxrtrain's default validation
fraction (0.15), computed by tests/bench/validation_files.c. Printed per
data set and per true class: films, the mean share in each region, and
the share of films whose map peaks in the centre.

    heatmap_regions.py [--model FILE] [--data DIR] [--build DIR]
                       [--validation-files EXE]

Run it with /usr/bin/python3 (numpy). A benchmark: it prints figures and
fails only when a pipeline does; exits 77 without the data.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VALIDATION_FRACTION = 0.15


def skip(message):
    print(f"SKIP: {message}")
    sys.exit(77)


def metadata(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))["__metadata__"]


def classify(env, model, folder, out):
    command = ["gst-launch-1.0", "-q", "cxrdatasetsrc", f"location={folder}",
               "target-size=124", "!", "cxrclassify", f"model={model}",
               "heatmap=true", "!", "cxrmetasink", f"location={out}",
               "print-summary=false"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"heatmap_regions.py: pipeline failed:\n  {' '.join(command)}\n"
                 f"{done.stdout[-1500:]}{done.stderr[-1500:]}")
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def regions(w, h):
    """masks of the centre, the edges and the corners of a w x h grid"""
    y, x = np.mgrid[0:h, 0:w]
    ring = (x == 0) | (y == 0) | (x == w - 1) | (y == h - 1)
    corner = ((x == 0) | (x == w - 1)) & ((y == 0) | (y == h - 1))
    return {"centre": ~ring, "edges": ring & ~corner, "corners": corner}


def report(name, lines):
    maps = [l for l in lines if l.get("heatmap")]
    if not maps:
        print(f"{name}: no heatmaps")
        return
    w, h = maps[0]["heatmap"]["width"], maps[0]["heatmap"]["height"]
    masks = regions(w, h)
    area = {k: m.mean() for k, m in masks.items()}
    print(f"{name} ({w}x{h} grid; area: " + ", ".join(
        f"{k} {v:.2f}" for k, v in area.items()) + ")")
    for truth in sorted({l["truth"] for l in maps}) + [None]:
        group = [l for l in maps if truth is None or l["truth"] == truth]
        shares = {k: [] for k in masks}
        peak_centre = 0
        for l in group:
            v = np.array(l["heatmap"]["values"], float).reshape(h, w)
            total = v.sum()
            if total <= 0:
                continue
            for k, m in masks.items():
                shares[k].append(v[m].sum() / total)
            peak_centre += masks["centre"].flat[int(v.argmax())]
        n = len(shares["centre"])
        print(f"  {truth or 'all':10} {n:5} films  " + "  ".join(
            f"{k} {np.mean(s):.3f}" for k, s in shares.items())
            + f"  peak in the centre {peak_centre / max(n, 1):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "default.safetensors"))
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--validation-files")
    args = parser.parse_args()
    train = os.path.join(args.data, "chest_xray", "train")
    test_dev = os.path.join(args.data, "chest_xray", "test_dev")
    for folder in (train, test_dev):
        if not os.path.isdir(folder):
            skip(f"no data folder {folder}")
    if shutil.which("gst-launch-1.0") is None:
        skip("gst-launch-1.0 not found")
    split = args.validation_files or os.path.join(args.build, "tests", "bench", "validation_files")
    model = os.path.abspath(args.model)
    meta = metadata(model)

    with tempfile.TemporaryDirectory(prefix="cxr-regions-") as tmp:
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(os.path.abspath(args.build), "plugin"),
                   GST_REGISTRY=os.path.join(tmp, "registry.dat"))
        out = os.path.join(tmp, "out.jsonl")
        lines = classify(env, model, train, out)
        print(f"model {os.path.relpath(model, ROOT)} (id {lines[0]['model']})")
        files = "\n".join(l["file"] for l in lines) + "\n"
        done = subprocess.run([split, meta.get("seed", "0"), str(VALIDATION_FRACTION),
                               meta.get("classes", "NORMAL,PNEUMONIA")],
                              input=files, capture_output=True, text=True, check=True)
        held_out = set(done.stdout.split("\n")) - {""}
        report(f"validation films carved from train ({len(held_out)} of {len(lines)})",
               [l for l in lines if l["file"] in held_out])
        report("test_dev", classify(env, model, test_dev, out))


if __name__ == "__main__":
    main()

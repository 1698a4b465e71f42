"""Whole pipelines on small subsets of the real data, as a user runs them.

    test_pipelines.py SOURCE_DIR BUILD_DIR DATA_DIR

Uses the shipped model (models/default.safetensors), the cxr-run front-end,
gst-launch-1.0 and the recipes in pipelines/. Skips (exit 77) without data.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip, skip_part  # noqa: E402

source, build, data = sys.argv[1:4]
train = os.path.join(data, "chest_xray", "train")
fullres = os.path.join(data, "chest_xray_fullres_sample")
if not os.path.isdir(train) or not os.path.isdir(fullres):
    skip(f"no data in {data}")

env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))
cxr_run = os.path.join(build, "pipelines", "tools", "cxr-run")



def run(cmd, **kw):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        print(" ".join(cmd), "failed:\n", done.stdout[-2000:], done.stderr[-2000:])
    return done


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def subset(folder, dest, per_class, classes=("NORMAL", "PNEUMONIA")):
    for c in classes:
        os.makedirs(os.path.join(dest, c))
        names = sorted(os.listdir(os.path.join(folder, c)))
        step = max(1, len(names) // per_class)
        for name in names[::step][:per_class]:
            os.symlink(os.path.join(folder, c, name), os.path.join(dest, c, name))


KEYS = {"file", "frame", "pts", "classes", "probabilities", "label",
        "threshold", "stale", "truth", "model", "abstained", "reason", "ood_score"}

with tempfile.TemporaryDirectory() as tmp:
    # 1. evaluate a labelled folder with the front-end
    folder = os.path.join(tmp, "labelled")
    subset(train, folder, 15)
    out, summary = os.path.join(tmp, "eval.jsonl"), os.path.join(tmp, "sum.json")
    report = os.path.join(tmp, "report.html")
    done = run([cxr_run, "evaluate", folder, "--output", out, "--summary", summary,
                "--report", report])
    check("cxr-run evaluate exits 0", done.returncode == 0)
    if done.returncode == 0:
        results = lines(out)
        with open(report, encoding="utf-8") as f:
            html = f.read()
        check("--report writes the HTML report, with heatmaps in the lines",
              '<svg id="roc"' in html and all(r.get("heatmap") for r in results))
        check("one JSON line per image", len(results) == 30, f"{len(results)} lines")
        check("each line has the contract's keys",
              all(KEYS <= set(r) for r in results))
        check("truth comes from the folder",
              all(r["truth"] == r["file"].split("/")[0] for r in results))
        check("frames numbered 0..n-1",
              [r["frame"] for r in results] == list(range(len(results))))
        with open(summary) as f:
            s = json.load(f)
        check("summary counts every image", s["count"] == 30
              and sum(map(sum, s["confusion"])) + s["abstained"] == 30,
              f"{s.get('confusion')}, {s.get('abstained')} abstained")
        check("the shipped model answers training films", s["abstained"] <= 1,
              f"{s['abstained_by_reason']}")
        # training images and the shipped model: a sanity check of the whole
        # chain (decode, resize, normalise, network, threshold), not a score
        check("shipped model is right on most training images",
              s["accuracy"] >= 0.8 and s["auc"] >= 0.9,
              f"accuracy {s['accuracy']:.3f}, AUC {s['auc']:.3f}")

    # frames that are not chest X-rays get no diagnosis: a black frame by the
    # film check, snow (noise) by the shipped model's feature statistics
    for pattern, reasons in (("black", {"blank"}), ("snow", {"out-of-distribution"})):
        out = os.path.join(tmp, f"{pattern}.jsonl")
        done = run(["gst-launch-1.0", "-q", "videotestsrc", f"pattern={pattern}",
                    "num-buffers=2", "!", "video/x-raw,width=320,height=240", "!",
                    "videoconvert", "!", "cxrclassify", "!", "cxrmetasink",
                    f"location={out}", "print-summary=false"])
        got = lines(out) if done.returncode == 0 else []
        check(f"videotestsrc {pattern}: not classified ({'/'.join(reasons)})",
              len(got) == 2 and all(r["abstained"] and r["label"] is None
                                    and r["reason"] in reasons for r in got),
              str([(r["reason"], r["ood_score"]) for r in got]))

    # in a locale whose decimal separator is a comma, the model's numbers
    # still read, and the JSON still has points
    locales = os.path.join(tmp, "locales")
    os.makedirs(locales)
    made = shutil.which("localedef") and os.path.isdir("/usr/share/i18n/locales") and \
        subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8",
                        os.path.join(locales, "de_DE.UTF-8")],
                       capture_output=True).returncode in (0, 1)
    if made and os.path.isdir(os.path.join(locales, "de_DE.UTF-8")):
        out = os.path.join(tmp, "de.jsonl")
        german = dict(env, LOCPATH=locales, LC_ALL="de_DE.UTF-8")
        # gst-launch-1.0 takes the locale from the environment
        done = subprocess.run(["gst-launch-1.0", "-q", "cxrdatasetsrc",
                               f"location={folder}", "!", "cxrclassify", "!",
                               "cxrmetasink", f"location={out}", "print-summary=false"],
                              env=german, capture_output=True, text=True)
        got = lines(out) if done.returncode == 0 else []
        check("LC_ALL=de_DE.UTF-8: the shipped model loads, results as JSON",
              len(got) == 30 and all(isinstance(r["threshold"], float) for r in got),
              done.stderr[-300:])
    else:
        skip_part("LC_ALL=de_DE.UTF-8", "no localedef or no locale sources")

    # 2. classify an unlabelled flat folder of full-resolution images
    flat = os.path.join(tmp, "flat")
    os.makedirs(flat)
    for name in sorted(os.listdir(os.path.join(fullres, "PNEUMONIA")))[:5]:
        os.symlink(os.path.join(fullres, "PNEUMONIA", name), os.path.join(flat, name))
    out = os.path.join(tmp, "flat.jsonl")
    done = run([cxr_run, "classify", flat, "--output", out])
    check("cxr-run classify exits 0", done.returncode == 0)
    if done.returncode == 0:
        results = lines(out)
        check("flat folder: 5 results without truth",
              len(results) == 5 and all(r["truth"] is None for r in results))

    # without the plugin, cxr-run says where to look and stops (it once went
    # on with half a pipeline and never ended)
    bare = dict(env, GST_PLUGIN_PATH="", GST_REGISTRY=os.path.join(tmp, "bare.dat"))
    try:
        done = subprocess.run([cxr_run, "evaluate", flat, "--output", out], env=bare,
                              capture_output=True, text=True, timeout=60)
        check("cxr-run without the plugin fails with advice",
              done.returncode != 0 and "GST_PLUGIN_PATH" in done.stderr, done.stderr[-300:])
    except subprocess.TimeoutExpired:
        check("cxr-run without the plugin fails with advice", False, "it did not stop")

    # a FIFO (and one named like an image) in a folder is passed over, not
    # opened: opening it would wait for a writer for ever
    fifo_folder = os.path.join(tmp, "fifo")
    os.makedirs(fifo_folder)
    os.mkfifo(os.path.join(fifo_folder, "pipe"))
    os.mkfifo(os.path.join(fifo_folder, "pipe.jpeg"))
    os.symlink(os.path.join(flat, sorted(os.listdir(flat))[0]),
               os.path.join(fifo_folder, "film.jpeg"))
    try:
        done = subprocess.run(["gst-launch-1.0", "-q", "cxrdatasetsrc",
                               f"location={fifo_folder}", "!", "fakesink"],
                              env=env, capture_output=True, text=True, timeout=60)
        check("a folder with FIFOs: the image is read, the FIFOs passed over",
              done.returncode == 0, done.stderr[-200:])
    except subprocess.TimeoutExpired:
        check("a folder with FIFOs: the image is read, the FIFOs passed over", False,
              "it never ended")

    # 3. a gst-launch-1.0 recipe over a CSV manifest
    manifest = os.path.join(tmp, "list.csv")
    with open(manifest, "w") as f:
        f.write("path,label\n")
        for c in ("NORMAL", "PNEUMONIA"):
            for name in sorted(os.listdir(os.path.join(folder, c)))[:3]:
                f.write(f"{os.path.join(folder, c, name)},{c}\n")
    out = os.path.join(tmp, "csv.jsonl")
    done = run(["gst-launch-1.0", "-q", "cxrdatasetsrc", f"location={manifest}",
                "target-size=124", "!", "cxrclassify", "!", "cxrmetasink",
                f"location={out}", "print-summary=false"])
    check("gst-launch over a CSV manifest", done.returncode == 0
          and len(lines(out)) == 6)

    # 4. train a small model in the pipeline on a few hundred images
    small = os.path.join(tmp, "small")
    subset(train, small, 150)
    model = os.path.join(tmp, "small.safetensors")
    # a misspelt or impossible setting stops before anything trains
    for bad, named in (("epocs=5", "'epocs'"), ("epochs=abc", "'abc'"),
                       ("epochs=0", "epochs=0")):
        done = subprocess.run([cxr_run, "train", small, "--output", model, bad],
                              env=env, capture_output=True, text=True, timeout=60)
        check(f"cxr-run train {bad}: refused, naming it, nothing written",
              done.returncode != 0 and named in done.stderr
              and not os.path.exists(model), done.stderr.strip()[-200:])
    done = run([cxr_run, "train", small, "--output", model, "epochs=4", "seed=2"],
               timeout=240)
    check("cxr-run train exits 0", done.returncode == 0)
    if done.returncode == 0:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import safetensors_np
        _, meta = safetensors_np.load(model)
        auc = float(meta.get("val_auc", "nan"))
        check("training: validation AUC well above chance", auc > 0.8,
              f"AUC {auc:.3f} on {meta.get('val_images')} validation images, "
              f"{meta.get('train_images')} training, {meta.get('train_seconds')} s")
        check("training: epoch lines shown", "epoch 4:" in done.stderr)

    # 6. site calibration with the recipe: a sample of 25 + 25 films fitted
    # with the shipped model; a sample of 10 + 10 is refused, nothing written
    site = os.path.join(tmp, "site")
    subset(train, site, 25)
    calibrated = os.path.join(tmp, "site.safetensors")
    recipe = os.path.join(source, "pipelines", "calibrate-site.sh")
    done = run(["bash", recipe, site, calibrated], timeout=240)
    check("calibrate-site.sh exits 0", done.returncode == 0)
    if done.returncode == 0:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import safetensors_np
        _, meta = safetensors_np.load(calibrated)
        check("calibration: method and sample in the provenance",
              meta.get("calibration_method") == "platt"
              and meta.get("calibration_images") == "50 (25 NORMAL, 25 PNEUMONIA)",
              f"{meta.get('calibration_method')}, {meta.get('calibration_images')}")
        check("calibration: the figures before and after are shown",
              "before (the model as it came):" in done.stderr
              and "after (cross-validated):" in done.stderr)
    tiny = os.path.join(tmp, "tiny-site")
    subset(train, tiny, 10)
    refused = os.path.join(tmp, "refused.safetensors")
    done = run(["bash", recipe, tiny, refused], timeout=120)
    check("calibration: a 10 + 10 sample is refused, nothing written",
          done.returncode != 0 and "at least 20" in done.stderr
          and not os.path.exists(refused), done.stderr[-200:])

    # 5. the simulated live capture: 30 fps, classified every 10th frame,
    # every frame reaches the sink
    done = run(["bash", os.path.join(source, "pipelines", "live-capture.sh"), "", "2"],
               timeout=60)
    check("live capture recipe exits 0", done.returncode == 0)
    if done.returncode == 0:
        results = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
        fresh = [r for r in results if not r["stale"]]
        check("live: all 60 frames reach the sink", len(results) == 60,
              f"{len(results)} frames")
        check("live: results keep updating (every 10th frame fresh)",
              len(fresh) >= 5, f"{len(fresh)} fresh")
        check("live: frames in between carry the last result, stale",
              all(r["label"] is not None for r in results))
        check("live: every frame carries the heatmap",
              all(r.get("heatmap") for r in results))

    # 6. the explanation recipe on the sample films: a picture a film, the
    # JSON lines with their heatmaps, the report
    out = os.path.join(tmp, "explained")
    done = run(["bash", os.path.join(source, "pipelines", "explain-folder.sh"),
                os.path.join(source, "pipelines", "sample-films"), out], timeout=120)
    check("explain-folder.sh exits 0", done.returncode == 0)
    if done.returncode == 0:
        results = lines(os.path.join(out, "results.jsonl"))
        pictures = sorted(f for f in os.listdir(out) if f.endswith(".png"))
        check("explain: a picture for each of the 8 films",
              pictures == [f"frame-{k:06d}.png" for k in range(8)], str(pictures))
        check("explain: each line has a 7x7 heatmap",
              len(results) == 8 and all(r["heatmap"]["width"] == 7
                                        and len(r["heatmap"]["values"]) == 49
                                        for r in results))
        html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
        check("explain: the report has its ROC curve and confusion matrix",
              '<svg id="roc"' in html and '<table id="confusion"' in html)

finish("pipeline")

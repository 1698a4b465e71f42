"""End to end: a folder of full-resolution JPEGs to JSON results, gst-cxr
against a Python script doing the same job the usual way (PIL decode and
resize, PyTorch forward on the same architecture and weights), measured
side by side in one run. gst-cxr twice: `cxr-run classify` (which decodes
JPEGs at a reduced DCT scale) and the plain pipeline a user types
(`cxrdatasetsrc ! cxrclassify ! cxrmetasink`, full decode), the latter
also with its decoding on one thread (decode-threads=1). Python twice:
with every network of the model, as gst-cxr runs them, and with its first
network alone, what a single-network script costs; and with one network
of the seed notebook's architecture (untrained weights: its time only),
what the notebook's own script costs.

    e2e_vs_python.py BUILD_DIR MODEL FOLDER [THREADS]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
sys.path.insert(0, os.path.join(here, "..", "reference"))
import safetensors_np  # noqa: E402
import torch_model  # noqa: E402

build, model_path, folder = sys.argv[1:4]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs
               if f.lower().endswith((".jpeg", ".jpg", ".png")))


def python_job(out_path, first_only=False, seed_network=False):
    """What a Python user would write (first_only: the model's first network
    alone, the cost of a single-network script; seed_network: instead, one
    network of the seed notebook's architecture with untrained weights, the
    cost of the notebook's own script)."""
    torch.set_num_threads(threads)
    tensors, meta = safetensors_np.load(model_path)
    layers = torch_model.parse(meta["layers"])
    # an ensemble's members are averaged in logits, as cxrclassify does
    members = int(meta.get("members", "1"))
    prefixes = [f"member{k}." for k in range(members)] if members > 1 else [""]
    if first_only:
        prefixes = prefixes[:1]
    params = [{k[len(p):]: torch.tensor(v) for k, v in tensors.items() if k.startswith(p)}
              for p in prefixes]
    if seed_network:
        torch.manual_seed(1)
        layers = torch_model.parse(torch_model.SEED)
        params = [{k: v.detach() for k, v in torch_model.init_params(layers).items()}]
    mean, std = map(float, meta["normalization"].split())
    threshold = float(meta["threshold"])
    classes = meta["classes"].split(",")
    with open(out_path, "w") as out, torch.no_grad():
        for i, path in enumerate(files):
            img = Image.open(path).convert("L").resize((124, 124), Image.BOX)
            x = (np.asarray(img, np.float32) / 255 - mean) / std
            x = torch.from_numpy(x)[None, None]
            z = sum(torch_model.forward(layers, p, x, False) for p in params) / len(params)
            p = torch.sigmoid(z)[0, 0].item()
            out.write(json.dumps({"file": os.path.relpath(path, folder), "frame": i,
                                  "probabilities": [1 - p, p],
                                  "label": classes[int(p >= threshold)]}) + "\n")


ENV = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"),
           OMP_NUM_THREADS=str(threads))


def cxr_run(out_path):
    subprocess.run([os.path.join(build, "pipelines", "tools", "cxr-run"), "classify", folder,
                    "--model", model_path, "--output", out_path], env=ENV,
                   check=True, stderr=subprocess.DEVNULL)


def pipeline(out_path, *decoding):
    subprocess.run(["gst-launch-1.0", "-q", "cxrdatasetsrc", f"location={folder}", *decoding,
                    "!", "cxrclassify", f"model={model_path}", f"threads={threads}", "!",
                    "cxrmetasink", f"location={out_path}"], env=ENV, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


with tempfile.TemporaryDirectory() as tmp:
    timings = {}
    jobs = (("cxr-run", cxr_run), ("pipeline", pipeline),
            ("pipeline, 1 decoding thread", lambda out: pipeline(out, "decode-threads=1")),
            ("python", python_job),
            ("python, one network", lambda out: python_job(out, True)),
            ("python, one seed network", lambda out: python_job(out, seed_network=True)))
    for name, job in jobs:
        out = os.path.join(tmp, name + ".jsonl")
        start = time.perf_counter()
        job(out)
        timings[name] = time.perf_counter() - start
        with open(out) as f:
            n = sum(1 for _ in f)
        assert n == len(files), (name, n, len(files))
    with open(os.path.join(tmp, "pipeline.jsonl")) as f:
        a = {r["file"]: r["probabilities"][1] for r in map(json.loads, f)}
    # (the seed network's answers are untrained: only its time counts)
    with open(os.path.join(tmp, "python.jsonl")) as f:
        b = {r["file"]: r["probabilities"][1] for r in map(json.loads, f)}
    diff = max(abs(a[k] - b[k]) for k in a)

n = len(files)
print(f"{n} images from {folder}, {threads} threads, whole job including start-up")
for name, t in timings.items():
    print(f"  {name:28} {t:6.2f} s {n / t:6.1f} images/s;  python / this: "
          f"{timings['python'] / t:4.1f}x, with one network "
          f"{timings['python, one network'] / t:4.1f}x, with one seed network "
          f"{timings['python, one seed network'] / t:4.1f}x")
print(f"  largest difference in P(PNEUMONIA) between the pipeline and python: {diff:.4f} "
      f"(the model's film normalisation, which the script leaves out, bf16 against fp32, "
      f"resampling)")

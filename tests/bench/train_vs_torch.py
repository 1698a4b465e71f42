"""Training the default architecture on the official train split: cxrtrain
in a GStreamer pipeline against PyTorch training the same architecture with
the same settings, in one run.

    train_vs_torch.py BUILD_DIR TRAIN_FOLDER [EPOCHS] [THREADS]

Both: the same images at 124x124 grey, 85/15 split (PyTorch: a random split
of the same size), batch 32, AdamW lr 1e-3 weight decay 1e-4 on weights,
cosine schedule with one warm-up epoch, balanced class weights, random
rotation +-10 deg, shift +-10%, zoom +-10%, dropout 0.2, EPOCHS epochs
(default 3) with validation after each. Reported: training images/s and
the wall time to the finished model, data loading included.
"""
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
sys.path.insert(0, os.path.join(here, "..", "reference"))
import safetensors_np  # noqa: E402
import torch_model  # noqa: E402

build, train_folder = sys.argv[1:3]
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2


def ours():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "model.safetensors")
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"),
                   OMP_NUM_THREADS=str(threads))
        start = time.perf_counter()
        subprocess.run(["gst-launch-1.0", "-q", "cxrdatasetsrc",
                        f"location={train_folder}", "target-size=124", "!",
                        "cxrtrain", f"output={out}", f"epochs={epochs}", "patience=0",
                        "seed=1"], env=env, check=True, stdout=subprocess.DEVNULL)
        total = time.perf_counter() - start
        _, meta = safetensors_np.load(out)
    n = int(meta["train_images"])
    return {"total": total, "train_seconds": float(meta["train_seconds"]),
            "images_per_second": n * epochs / float(meta["train_seconds"]),
            "val_auc": float(meta["val_auc"]), "precision": meta["precision"]}


def augment(x, gen):
    """Random rotation, shift and zoom of a batch, as one affine map."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
    zoom = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.1
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * 0.1 * 2
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def theirs():
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    images, labels = [], []
    for label, c in enumerate(("NORMAL", "PNEUMONIA")):
        folder = os.path.join(train_folder, c)
        for name in sorted(os.listdir(folder)):
            img = Image.open(os.path.join(folder, name)).convert("L")
            images.append(np.asarray(img.resize((124, 124), Image.BOX), np.float32) / 255)
            labels.append(label)
    x = torch.from_numpy(np.stack(images))[:, None]
    y = torch.tensor(labels, dtype=torch.float32)
    order = torch.randperm(len(y), generator=gen)
    n_val = int(0.15 * len(y))
    val, tr = order[:n_val], order[n_val:]
    counts = torch.bincount(y[tr].long(), minlength=2).float()
    class_weight = len(tr) / (2 * counts)

    layers = torch_model.parse(torch_model.DEFAULT)
    params = torch_model.init_params(layers)
    decay = [p for k, p in params.items() if k.endswith(".weight")]
    other = [p for k, p in params.items() if p.requires_grad and not k.endswith(".weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4},
                             {"params": other, "weight_decay": 0.0}], lr=1e-3)
    steps_per_epoch = len(tr) // 32
    total_steps, warmup = epochs * steps_per_epoch, steps_per_epoch
    step, train_time = 0, 0.0
    auc = float("nan")
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = tr[torch.randperm(len(tr), generator=gen)]
        for b in range(steps_per_epoch):
            idx = perm[b * 32:(b + 1) * 32]
            lr = 1e-3 * (step + 1) / warmup if step < warmup else \
                0.5e-3 * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup)))
            for g in opt.param_groups:
                g["lr"] = lr
            xb = augment(x[idx], gen)
            z = torch_model.forward(layers, params, xb, True)
            loss = torch_model.loss_fn(layers, z, y[idx], class_weight[y[idx].long()])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        train_time += time.perf_counter() - t0
        with torch.no_grad():
            p = torch.sigmoid(torch_model.forward(layers, params, x[val], False))[:, 0]
        pos, neg = p[y[val] == 1], p[y[val] == 0]
        auc = ((pos[:, None] > neg[None]).float().mean()
               + 0.5 * (pos[:, None] == neg[None]).float().mean()).item()
    return {"total": time.perf_counter() - start, "train_seconds": train_time,
            "images_per_second": len(tr) * epochs / train_time, "val_auc": auc,
            "precision": "fp32"}


a = ours()
b = theirs()
print(f"training the default architecture, {epochs} epochs, {threads} threads, "
      f"on {train_folder}")
print(f"  {'':22}{'gst-cxr':>12}{'PyTorch':>12}{'ratio':>8}")
print(f"  {'training images/s':22}{a['images_per_second']:12.1f}"
      f"{b['images_per_second']:12.1f}{a['images_per_second'] / b['images_per_second']:7.1f}x")
print(f"  {'time to the model (s)':22}{a['total']:12.1f}{b['total']:12.1f}"
      f"{b['total'] / a['total']:7.1f}x")
print(f"  {'validation AUC':22}{a['val_auc']:12.4f}{b['val_auc']:12.4f}")
print(f"  (gst-cxr in {a['precision']}, PyTorch in {b['precision']}; time to the "
      f"model includes decoding the images)")

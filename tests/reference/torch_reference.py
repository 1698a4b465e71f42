"""Cross-check of the engine against PyTorch on identical weights and inputs.

    torch_reference.py NETCHECK seed|default WORKDIR

Runs tests/reference/netcheck.c's program, recomputes everything in PyTorch in float64
(the reference) and fails when:
  - fp32 logits, loss, every parameter gradient, the batch-norm running
    statistics or batch-1 inference differ by more than 1e-4 relative
    (max |ours - ref| / max |ref| per tensor);
  - bf16 inference logits differ by more than BF16_TOLERANCE relative;
  - the fp32 heatmap of each sample differs from Grad-CAM by autograd, or
    for a global-average-pool head from the CAM of the dense weights, by
    more than 1e-4 of its maximum;
  - bf16 training gradients differ from a bf16-rounding reference by more
    than BF16_GRAD_TOLERANCE (L2) or point elsewhere (cosine below
    BF16_GRAD_COSINE);
  - the losses of a 10-step SGD-with-momentum run, or its weights after,
    differ by more than 1e-4 relative; those of a 10-step AdamW run by more
    than ADAM_TOLERANCE, its weights by more than 1e-2 (see below).
"""
import os
import subprocess
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, ".."))
import safetensors_np  # noqa: E402
import torch_model  # noqa: E402

FP32_TOLERANCE = 1e-4
# bf16 keeps 8 significant bits: each layer rounds its input and weights to a
# relative 2^-9 (0.2%), and the errors of the layers add up; 2% of the logit
# range leaves room for that over 5-6 layers while still catching a wrong
# layout, a missing bias or a swapped channel, which are off by 10% or more.
BF16_TOLERANCE = 2e-2
# bf16 training gradients are compared with a reference that rounds to bf16
# at the same places (torch_model.forward(bf16=True)). The two still round a
# few values differently, since float32 and float64 arithmetic put them on
# either side of a rounding boundary; each batch-norm backward subtracts
# near-equal terms and magnifies such flips, so through the default
# network's five batch-norm layers the first layers' gradients differ by up
# to ~11% (L2, measured), the seed network's by ~2%. A wrong layout, a
# wrong gradient or a missing term is off by the order of 100%, with a
# cosine far from 1.
BF16_GRAD_TOLERANCE = 0.15
BF16_GRAD_COSINE = 0.99
# Adam's step is lr x m / sqrt(v): about lr whatever the size of a gradient,
# so a gradient that is nearly zero, where float32 and float64 differ in the
# leading digit, still moves its weight by a full step either way. The
# losses then drift apart by a few 1e-4 over 10 steps while the gradients
# agree to 1e-5; SGD, linear in the gradients, is held to 1e-4.
ADAM_TOLERANCE = 2e-3
FINAL_WEIGHTS_TOLERANCE = 1e-2
STEPS, BATCH = 10, 8

failures = []


def check(what, ours, ref, tol):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    scale = max(np.abs(ref).max(), 1e-12)
    err = np.abs(ours - ref).max() / scale
    status = "ok" if err <= tol and ours.shape == ref.shape else "FAIL"
    print(f"{status:4} {what:40} rel err {err:.2e} (tolerance {tol:.0e})")
    if status != "ok":
        failures.append(what)
    return err


def check_direction(what, ours, ref):
    """Gradients in bf16: relative error of the whole tensor (L2) and
    cosine, which a wrong layout or a missing term ruins outright."""
    ours = np.asarray(ours, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    err = np.linalg.norm(ours - ref) / max(np.linalg.norm(ref), 1e-30)
    cos = ours @ ref / max(np.linalg.norm(ours) * np.linalg.norm(ref), 1e-30)
    ok = err <= BF16_GRAD_TOLERANCE and cos >= BF16_GRAD_COSINE
    print(f"{'ok' if ok else 'FAIL':4} {what:40} L2 rel err {err:.2e} cosine {cos:.5f} "
          f"(tolerance {BF16_GRAD_TOLERANCE:.2f}, {BF16_GRAD_COSINE})")
    if not ok:
        failures.append(what)


def main():
    netcheck, arch, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    rng = np.random.default_rng(11)
    # smooth-ish images: noise plus a per-image brightness ramp
    x = rng.normal(0, 1, (STEPS, BATCH, 1, 124, 124))
    x += np.linspace(-1, 1, 124)[None, None, None, None, :] * rng.normal(
        0, 1, (STEPS, BATCH, 1, 1, 1))
    labels = rng.integers(0, 2, (STEPS, BATCH)).astype(np.float32)
    weights = np.where(labels == 1, 0.7, 1.9).astype(np.float32)
    inputs = os.path.join(workdir, "inputs.safetensors")
    safetensors_np.save(inputs, {"input": x.astype(np.float32),
                                 "labels": labels, "weights": weights})
    subprocess.run([netcheck, arch, "3", inputs, workdir], check=True)
    start, meta = safetensors_np.load(os.path.join(workdir, "model.safetensors"))
    res, _ = safetensors_np.load(os.path.join(workdir, "result.safetensors"))
    layers = torch_model.parse(meta["layers"])
    torch.set_num_threads(os.cpu_count() or 1)

    def fresh_params():
        return {k: torch.tensor(v, dtype=torch.float64,
                                requires_grad=not k.endswith(("bn_mean", "bn_var")))
                for k, v in start.items()}

    def masks(prefix):
        return {int(k[len(prefix) + 5:]): torch.tensor(v, dtype=torch.float64)
                for k, v in res.items()
                if k.startswith(prefix + "mask.") and k[len(prefix) + 5:].isdigit()}

    xt = torch.tensor(x, dtype=torch.float64)
    yt = torch.tensor(labels, dtype=torch.float64)
    wt = torch.tensor(weights, dtype=torch.float64)

    # one training step
    params = fresh_params()
    logits = torch_model.forward(layers, params, xt[0], True, masks(""))
    loss = torch_model.loss_fn(layers, logits, yt[0], wt[0])
    loss.backward()
    print(f"{arch}: loss ours {res['loss'][0]:.6f} torch {loss.item():.6f}")
    check("training logits", res["logits"], logits.detach(), FP32_TOLERANCE)
    check("loss", res["loss"], [loss.item()], FP32_TOLERANCE)
    for name, p in params.items():
        if p.requires_grad:
            check("grad " + name, res["grad." + name], p.grad, FP32_TOLERANCE)
        else:
            check("running " + name, res["running." + name], p.detach(),
                  FP32_TOLERANCE)

    # one bf16 (mixed precision) training step, against a float64 reference
    # that rounds to bf16 where the engine stores bf16, with the same masks
    # (a CPU without any bf16 in oneDNN, AVX2 alone, gives none to check)
    if "bf16.logits" in res:
        params = fresh_params()
        logits = torch_model.forward(layers, params, xt[0], True, masks("bf16."),
                                     bf16=True)
        loss = torch_model.loss_fn(layers, logits, yt[0], wt[0])
        loss.backward()
        check("bf16 training logits", res["bf16.logits"], logits.detach(), BF16_TOLERANCE)
        check("bf16 loss", res["bf16.loss"], [loss.item()], BF16_TOLERANCE)
        for name, p in params.items():
            if p.requires_grad:
                check_direction("bf16 grad " + name, res["bf16.grad." + name], p.grad)
    else:
        print("skip bf16 training: this CPU has no bf16")

    # inference from the starting weights
    params = fresh_params()
    with torch.no_grad():
        ref = torch_model.forward(layers, params, xt[0], False)
    check("inference fp32", res["infer_fp32"], ref, FP32_TOLERANCE)
    check("inference fp32, batch 1", res["infer_single"], ref[:1], FP32_TOLERANCE)
    if "infer_bf16" in res:
        check("inference bf16", res["infer_bf16"], ref, BF16_TOLERANCE)
        p_ref = torch.sigmoid(ref).numpy()
        p_bf16 = 1 / (1 + np.exp(-res["infer_bf16"].astype(np.float64)))
        print(f"     bf16 largest probability difference {np.abs(p_ref - p_bf16).max():.2e}")
    else:
        print("skip bf16 inference: this CPU has no bf16")

    # heatmaps: Grad-CAM by autograd, and for a global-average-pool head
    # the class activation map straight from the dense weights
    # (and the same with the last layer negated: a random network's
    # positive class may have no place that speaks for it)
    last = max(i for i, l in enumerate(layers) if l["type"] == "dense")
    negated = {k: -v if k.startswith(f"layer{last}.") else v
               for k, v in params.items()}
    lit = 0
    for key, p in (("heatmap", params), ("heatmap_negated", negated)):
        grad_cams, cams = [], []
        for i in range(BATCH):
            m, a = torch_model.grad_cam(layers, p, xt[0][i:i + 1])
            grad_cams.append(m)
            cams.append(torch_model.cam(layers, p, a))
        grad_cams = torch.stack(grad_cams)
        check(key + " against Grad-CAM", res[key], grad_cams, FP32_TOLERANCE)
        if any(l["type"] == "gap" for l in layers):
            check(key + " against CAM", res[key], torch.stack(cams),
                  FP32_TOLERANCE)
        n = int((grad_cams.amax(dim=(1, 2)) > 0).sum())
        print(f"     {key}: {n} of {BATCH} reference maps are not all 0; "
              f"map {tuple(grad_cams.shape[1:])}")
        lit += n
    if lit == 0:
        failures.append("heatmap: every reference map is 0, nothing compared")

    # 10-step runs with each optimiser
    for name, make, loss_tol in (
            ("adam", lambda g: torch.optim.AdamW(g, lr=1e-4, eps=1e-8), ADAM_TOLERANCE),
            ("sgd", lambda g: torch.optim.SGD(g, lr=1e-4, momentum=0.9), FP32_TOLERANCE)):
        params = fresh_params()
        decay = [p for k, p in params.items() if k.endswith(".weight")]
        other = [p for k, p in params.items()
                 if p.requires_grad and not k.endswith(".weight")]
        opt = make([{"params": decay, "weight_decay": 1e-2},
                    {"params": other, "weight_decay": 0.0}])
        losses = []
        for s in range(STEPS):
            opt.zero_grad()
            logits = torch_model.forward(layers, params, xt[s], True,
                                         masks(f"{name}.step{s}."))
            loss = torch_model.loss_fn(layers, logits, yt[s], wt[s])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        print(f"     {name:4} losses ours  " + " ".join(f"{v:.4f}" for v in res[name + ".loss"]))
        print(f"     {name:4} losses torch " + " ".join(f"{v:.4f}" for v in losses))
        check(f"{name}: 10 training losses", res[name + ".loss"], losses, loss_tol)
        for k, p in params.items():
            check(f"{name}: after 10 steps {k}", res[f"{name}.final.{k}"], p.detach(),
                  FINAL_WEIGHTS_TOLERANCE if name == "adam" else loss_tol)

    if failures:
        print(f"{len(failures)} checks failed: " + ", ".join(failures))
        sys.exit(1)
    print("all checks passed")


main()

"""Our engine against PyTorch, and at batch 1 against OpenCV's DNN module
(the network exported to ONNX), on the same architectures, side by side in
one run, with the ratios. OpenCV is left out, said, where python3-opencv or
python3-onnx is not installed.

    engine_vs_torch.py BENCH_ENGINE [THREADS] [SECONDS]
"""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
bench = sys.argv[1]
threads = sys.argv[2] if len(sys.argv) > 2 else "2"
seconds = sys.argv[3] if len(sys.argv) > 3 else "3"


def run(cmd, optional=False):
    """the JSON object cmd prints last; None, said, when an optional one
    fails"""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 and optional:
        print(f"left out: {' '.join(cmd)} failed:\n{done.stderr[-500:]}")
        return None
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


print(f"threads {threads}, {seconds} s per figure; images/s (higher is better)")
for arch in ("seed", "default"):
    ours = run([bench, arch, threads, seconds])
    ref = run(["/usr/bin/python3", os.path.join(here, "torch_bench.py"), arch,
               threads, seconds])
    cv = run(["/usr/bin/python3", os.path.join(here, "opencv_bench.py"), arch,
              threads, seconds], optional=True)
    gf = ours["gflop_per_image"]
    print(f"\n{arch}: {gf:.3f} GFLOP per image forward; fp32 via "
          f"{ours['impl_fp32']}, bf16 via {ours['impl_bf16']}; "
          f"PyTorch {ref['torch']}")
    print(f"  {'':24}{'ours':>10}{'PyTorch':>10}{'ratio':>8}{'GFLOP/s':>10}")
    rows = [("inference b1 fp32", "infer_b1_fp32", "infer_b1_fp32", 1),
            ("inference b1 bf16", "infer_b1_bf16", "infer_b1_fp32", 1),
            ("inference b32 fp32", "infer_b32_fp32", "infer_b32_fp32", 1),
            ("inference b32 bf16", "infer_b32_bf16", "infer_b32_fp32", 1),
            ("training b32 fp32", "train_b32_fp32", "train_b32_fp32", 3),
            ("training b32 bf16", "train_b32_bf16", "train_b32_fp32", 3)]
    for label, ok, rk, passes in rows:
        a, b = ours[ok], ref[rk]
        print(f"  {label:24}{a:10.1f}{b:10.1f}{a / b:7.1f}x{a * gf * passes:10.1f}")
    print(f"  (training GFLOP/s counts forward + backward as 3 x forward; "
          f"bf16 rows compare with PyTorch fp32)")
    if cv:
        for label, ok in (("inference b1 fp32", "infer_b1_fp32"),
                          ("inference b1 bf16", "infer_b1_bf16")):
            a, b = ours[ok], cv["infer_b1_fp32"]
            print(f"  {label + ' vs OpenCV':24}{a:10.1f}{b:10.1f}{a / b:7.1f}x"
                  f"   (OpenCV {cv['opencv']} DNN, fp32, its CPU backend; "
                  f"output within {cv['largest_difference_from_torch']:.1e} of PyTorch's)")
    if ours.get("bare_b1_fp32"):
        for label, ok, bk in (("fp32", "infer_b1_fp32", "bare_b1_fp32"),
                              ("bf16", "infer_b1_bf16", "bare_b1_bf16")):
            if ours[bk]:
                print(f"  inference b1 {label}: engine {ours[ok]:.1f}, the same network as bare "
                      f"oneDNN primitives {ours[bk]:.1f} images/s: "
                      f"{100 * ours[ok] / ours[bk]:.0f}% of it")
print(f"\nlarge dnnl_sgemm (2048^3, fp32): {ours['sgemm_gflops']:.1f} GFLOP/s")

"""Training steps over several processes (bench_dist under mpirun), and
what they say of a cluster.

    dist_scaling.py BENCH_DIST [BATCH STEPS]

Runs bench_dist with 1 and 2 processes (the environment's PROCESSES, e.g.
"1 2 4 8", for more), each process with an equal share of the machine's
cores as OpenMP threads, on one global batch (32): per step the compute
time, the communication time and the bytes a process puts into the sums,
and images a second. Then a model of N nodes, each like this machine
running one process on all its cores over a part of 32 images (a global
batch of 32 N), joined by Ethernet of 10 Gb/s:

    t_step(N) = t_compute + t_gradients(N) + t_statistics(N)
    t_gradients(N) = 2 (N - 1) / N * G / bandwidth + 2 log2(N) * latency
                                      (G gradient bytes summed by halving
                                      and doubling, Rabenseifner's)
    t_statistics(N) = k * 2 * log2(N) * latency
                                      (k small batch-norm sums a step)
    efficiency(N) = t_compute / t_step(N)

with t_compute measured here, G the gradient buffer, k counted by
bench_dist (3 a batch-norm layer), latency 50 us (TCP over a switch). Nothing here is a test: no time
is asserted.
"""
import json
import math
import os
import subprocess
import sys

bench = sys.argv[1]
batch = sys.argv[2] if len(sys.argv) > 2 else "32"
steps = sys.argv[3] if len(sys.argv) > 3 else "30"
cores = os.cpu_count() or 1
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
BANDWIDTH = 10e9 / 8            # bytes a second
LATENCY = 50e-6                 # seconds a message

rows = []
for n in [int(p) for p in os.environ.get("PROCESSES", "1 2").split()]:
    threads = max(1, cores // n)
    command = ([bench] if n == 1 else
               ["mpirun", "--oversubscribe", "--bind-to", "none", "-np",
                str(n), bench])
    done = subprocess.run(command + [batch, steps],
                          env=dict(env, OMP_NUM_THREADS=str(threads)),
                          capture_output=True, text=True)
    if done.returncode:
        print(f"{n} processes: failed: {done.stderr.strip()[-300:]}")
        continue
    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

print(f"{cores} cores; one global batch of {batch}")
print("processes threads  step ms  compute ms  communicate ms  "
      "bytes/step  images/s")
for r in rows:
    print(f"{r['processes']:9d} {r['threads']:7d} {r['step_ms']:8.1f} "
          f"{r['compute_ms']:11.1f} {r['communicate_ms']:15.2f} "
          f"{r['bytes_per_step']:11.0f} {r['images_per_second']:9.1f}")
if rows:
    base = rows[0]["images_per_second"]
    for r in rows[1:]:
        print(f"{r['processes']} processes against 1: "
              f"{r['images_per_second'] / base:.2f}x the images a second")

one = next((r for r in rows if r["processes"] == 1), None)
shared = next((r for r in rows if r["processes"] > 1), None)
if one:
    gradients = one["gradient_bytes"]
    # the batch-norm sums a step, counted in a run over several processes
    k = shared["statistics_sums"] if shared else 15
    compute = one["compute_ms"] / 1e3
    print(f"\nmodel: t_compute {compute * 1e3:.1f} ms (batch {batch}, "
          f"{one['threads']} threads), G {gradients / 1e6:.2f} MB, "
          f"k {k} batch-norm sums, 10 Gb/s, latency "
          f"{LATENCY * 1e6:.0f} us")
    for nodes in (8, 64):
        t_grad = (2 * (nodes - 1) / nodes * gradients / BANDWIDTH +
                  2 * math.log2(nodes) * LATENCY)
        t_stat = k * 2 * math.log2(nodes) * LATENCY
        step = compute + t_grad + t_stat
        print(f"{nodes:3d} nodes: gradients {t_grad * 1e3:.2f} ms, "
              f"statistics {t_stat * 1e3:.2f} ms, efficiency "
              f"{compute / step:.1%}, {nodes * int(batch) / step:.0f} "
              f"images a second")

"""Runs over several processes: Open MPI's mpirun on this machine, over its
TCP transport on loopback, against one process.

    test_mpi.py SOURCE_DIR BUILD_DIR DATA_DIR

- Classification: `mpirun -np 2` and `-np 3 cxr-run evaluate` on test_dev
  write the JSON lines one process writes, byte for byte, and the same
  summary with "processes": N. Shards: `cxr-run classify --shard K/3` for
  each K, a re-run of a finished shard skipped, `cxr-run merge` the same
  lines and summary.
- Training, 2 epochs over the 200 full-resolution films in fp32, with 1, 2
  and 3 processes (3: uneven parts of each batch of 32): the same split
  (data fingerprint, images), world_size in the provenance, and weights,
  validation AUC and test_dev probabilities within the tolerances below.
  Not bit for bit: the processes sum their parts' gradients and batch-norm
  statistics in another order than one process sums its batch, and Adam
  turns a gradient near 0 into a step of plus or minus the learning rate
  whatever its size, so the order of sums moves some weights by 2 x 1e-3.
  One process run with 2 threads instead of 1 differs from itself as much
  (its weights' median relative difference is printed beside). A net
  without batch-norm (the seed's) agrees far more closely.
- Failure: a process killed mid-epoch ends the run within a minute, with a
  nonzero status and no model file; so does a process that fails (a
  corrupt file in its share, skip-corrupt=false); processes fed the same
  frames instead of shares of one list are refused.
- Two hosts: two network namespaces joined by a veth pair, mpirun started
  in one and starting its daemon in the other through netns-agent.sh
  instead of ssh: training there is within the same tolerances, and the
  link carried at least the gradients of every step (as root only).
"""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip, skip_part  # noqa: E402

source, build, data = sys.argv[1:4]
cxr_run = os.path.join(build, "pipelines", "tools", "cxr-run")
plugin = os.path.join(build, "plugin")
test_dev = os.path.join(data, "chest_xray", "test_dev")
films = os.path.join(data, "chest_xray_fullres_sample")
model = os.path.join(source, "models", "default.safetensors")

if subprocess.run(["which", "mpirun"], capture_output=True).returncode:
    skip("mpirun is not installed (Debian openmpi-bin)")
libs = subprocess.run(["ldd", os.path.join(plugin, "libgstcxr.so")],
                      capture_output=True, text=True).stdout
if "libmpi" not in libs:
    skip("the plugin is built without Open MPI (libopenmpi-dev, -Dmpi)")
if not os.path.isdir(test_dev) or not os.path.isdir(films):
    skip(f"no data set in {data}")
import numpy as np  # noqa: E402  (Debian's, with the data)

env = dict(os.environ, GST_PLUGIN_PATH=plugin, CXR_MODEL_PATH=model,
           OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
           OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", GST_DEBUG="0")
# TCP on loopback, as between hosts; more processes than cores is fine
MPIRUN = ["mpirun", "--oversubscribe", "--mca", "btl", "self,tcp",
          "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include",
          "lo"]

# tolerances of N processes against one, 2 epochs in fp32 (see above)
WEIGHTS_MEDIAN = 1e-2           # median over tensors of |a - b| / |a|
AUC = 0.02                      # validation AUC
PROBABILITY = 0.05              # largest test_dev probability difference
SEED_NET = 1e-4                 # weights of a net without batch-norm


def run(args, timeout=600, **kw):
    return subprocess.run(args, env=kw.pop("env", env), capture_output=True,
                          text=True, timeout=timeout, **kw)


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    body = raw[8 + n:]
    return meta, {k: np.frombuffer(body[v["data_offsets"][0]:
                                        v["data_offsets"][1]], np.float32)
                  for k, v in header.items()}


def weights_median(a, b):
    return float(np.median([np.linalg.norm(a[k] - b[k]) /
                            max(np.linalg.norm(a[k]), 1e-12) for k in a]))


def probabilities(model_path, out):
    done = run(["gst-launch-1.0", "-q", "cxrdatasetsrc",
                f"location={test_dev}", "target-size=124", "!",
                "cxrclassify", f"model={model_path}", "!", "cxrmetasink",
                f"location={out}", "print-summary=false"])
    if done.returncode:
        return None
    return np.array([json.loads(line)["probabilities"][1]
                     for line in open(out)])


tmp = tempfile.mkdtemp(prefix="cxr-mpi-")

# ---- classification ----
one = run([cxr_run, "evaluate", test_dev, "--output", f"{tmp}/one.jsonl",
           "--summary", f"{tmp}/one.json"])
check("one process evaluates test_dev", one.returncode == 0, one.stderr[-300:])
want_lines = open(f"{tmp}/one.jsonl", "rb").read()
want_summary = json.load(open(f"{tmp}/one.json"))
for n in (2, 3):
    done = run(MPIRUN + ["-np", str(n), cxr_run, "evaluate", test_dev,
                         "--output", f"{tmp}/np{n}.jsonl", "--summary",
                         f"{tmp}/np{n}.json"])
    check(f"{n} processes: cxr-run evaluate ends well", done.returncode == 0,
          done.stderr[-400:])
    if done.returncode:
        continue
    check(f"{n} processes: the JSON lines of one, byte for byte",
          open(f"{tmp}/np{n}.jsonl", "rb").read() == want_lines)
    summary = json.load(open(f"{tmp}/np{n}.json"))
    check(f"{n} processes: the summary says so", summary.pop("processes",
                                                             None) == n)
    check(f"{n} processes: the summary's figures are one process's",
          summary == want_summary)

for k in (1, 2, 3):
    done = run([cxr_run, "classify", test_dev, "--shard", f"{k}/3",
                "--output", f"{tmp}/shards.jsonl"])
    check(f"shard {k}/3 is written", done.returncode == 0 and
          os.path.exists(f"{tmp}/shards.jsonl.{k}-of-3"), done.stderr[-300:])
again = run([cxr_run, "classify", test_dev, "--shard", "2/3", "--output",
             f"{tmp}/shards.jsonl"])
check("a finished shard is skipped on a re-run", again.returncode == 0 and
      "skipped" in again.stderr, again.stderr[-200:])
merged = run([cxr_run, "merge", "--shards", "3", "--output",
              f"{tmp}/shards.jsonl", "--summary", f"{tmp}/shards.json"])
check("cxr-run merge ends well", merged.returncode == 0, merged.stderr[-300:])
if merged.returncode == 0:
    check("merged shards: the JSON lines of one run, byte for byte",
          open(f"{tmp}/shards.jsonl", "rb").read() == want_lines)
    check("merged shards: the summary of one run",
          json.load(open(f"{tmp}/shards.json")) == want_summary)
missing = run([cxr_run, "merge", "--shards", "4", "--output",
               f"{tmp}/shards.jsonl"])
check("a merge with a shard missing says which", missing.returncode != 0 and
      "4/4" in missing.stderr, missing.stderr[-200:])


# ---- training ----
def train(n, out, *settings, threads="1"):
    launch = ["gst-launch-1.0", "-q", "cxrdatasetsrc", f"location={films}",
              "target-size=124", "!", "cxrtrain", f"output={out}", "seed=1",
              *settings]
    return run((MPIRUN + ["-np", str(n)] if n > 1 else []) + launch,
               env=dict(env, OMP_NUM_THREADS=threads))


recipe = ("epochs=2", "precision=fp32")
models = {}
for n in (1, 2, 3):
    path = f"{tmp}/train{n}.safetensors"
    done = train(n, path, *recipe)
    check(f"{n} processes train", done.returncode == 0 and
          os.path.exists(path), done.stderr[-400:])
    if done.returncode == 0:
        models[n] = (path, *load(path))
threads2 = f"{tmp}/train1-threads2.safetensors"
train(1, threads2, *recipe, threads="2")

if 1 in models:
    path1, meta1, w1 = models[1]
    p1 = probabilities(path1, f"{tmp}/p1.jsonl")
    floor = weights_median(w1, load(threads2)[1]) \
        if os.path.exists(threads2) else float("nan")
    check("one process writes no world_size", "world_size" not in meta1)
    for n in (2, 3):
        if n not in models:
            continue
        path, meta, w = models[n]
        check(f"{n} processes: the split of one (data, images)",
              all(meta[k] == meta1[k] for k in
                  ("data_fingerprint", "train_images", "val_images")))
        check(f"{n} processes: world_size {n} in the provenance",
              meta.get("world_size") == str(n))
        median = weights_median(w1, w)
        check(f"{n} processes: weights within {WEIGHTS_MEDIAN} (median "
              f"relative difference over tensors)", median <= WEIGHTS_MEDIAN,
              f"{median:.2e}; one process on 2 threads against 1: "
              f"{floor:.2e}")
        auc = abs(float(meta["val_auc"]) - float(meta1["val_auc"]))
        check(f"{n} processes: validation AUC within {AUC}", auc <= AUC,
              f"{meta['val_auc']} against {meta1['val_auc']}")
        p = probabilities(path, f"{tmp}/p{n}.jsonl")
        if p is not None and p1 is not None:
            worst = float(np.max(np.abs(p - p1)))
            check(f"{n} processes: test_dev probabilities within "
                  f"{PROBABILITY}", worst <= PROBABILITY,
                  f"largest {worst:.4f}, mean {np.mean(np.abs(p - p1)):.5f}")

seed = {}
for n in (1, 2):
    path = f"{tmp}/seed{n}.safetensors"
    if train(n, path, "epochs=1", "precision=fp32", "architecture=seed",
             "ood-quantile=0").returncode == 0:
        seed[n] = load(path)[1]
if len(seed) == 2:
    worst = max(np.linalg.norm(seed[1][k] - seed[2][k]) /
                max(np.linalg.norm(seed[1][k]), 1e-12) for k in seed[1])
    check(f"a net without batch-norm: 2 processes within {SEED_NET} of one",
          worst <= SEED_NET, f"largest relative difference {worst:.2e}")
else:
    check("the seed's net trains with 1 and 2 processes", False)


# ---- failure ----
def rank_pid(rank):
    """the pid of the process mpirun gave rank, or None"""
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, ValueError):
            continue
        if (b"OMPI_COMM_WORLD_RANK=%d" % rank in environ and
                b"gst-launch" in cmdline and tmp.encode() in cmdline):
            return int(pid)
    return None


killed = f"{tmp}/killed.safetensors"
launch = MPIRUN + ["-np", "2", "gst-launch-1.0", "-m", "cxrdatasetsrc",
                   f"location={films}", "target-size=124", "!", "cxrtrain",
                   f"output={killed}", "seed=1", "epochs=50"]
job = subprocess.Popen(launch, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
# the first progress message: training has started
for line in job.stdout:
    if "cxrtrain-progress" in line:
        break
victim = rank_pid(1)
check("process 1 of the run is found", victim is not None)
if victim:
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    try:
        job.communicate(timeout=60)
        took = time.monotonic() - started
        check("a process killed mid-epoch ends the run within a minute, "
              "nonzero", job.returncode != 0, f"{took:.1f} s, status "
              f"{job.returncode}")
    except subprocess.TimeoutExpired:
        job.kill()
        job.communicate()
        check("a process killed mid-epoch ends the run within a minute",
              False)
    check("a run that lost a process writes no model",
          not os.path.exists(killed))
else:
    job.kill()
    job.communicate()

# a corrupt file in process 1's share (the second half of the list)
bad = f"{tmp}/bad"
for c in ("NORMAL", "PNEUMONIA"):
    os.makedirs(f"{bad}/{c}")
    for name in sorted(os.listdir(f"{films}/{c}"))[:8]:
        os.symlink(f"{films}/{c}/{name}", f"{bad}/{c}/{name}")
with open(f"{bad}/PNEUMONIA/zz-broken.jpeg", "w") as f:
    f.write("not a picture")
failed_model = f"{tmp}/failed.safetensors"
started = time.monotonic()
try:
    done = run(MPIRUN + ["-np", "2", "gst-launch-1.0", "-q", "cxrdatasetsrc",
                         f"location={bad}", "target-size=124",
                         "skip-corrupt=false", "!", "cxrtrain",
                         f"output={failed_model}", "batch-size=4"],
               timeout=60)
    check("a process that fails ends the run within a minute, nonzero, "
          "saying which", done.returncode != 0 and "process 1 of 2" in
          done.stdout + done.stderr, f"{time.monotonic() - started:.1f} s")
except subprocess.TimeoutExpired:
    check("a process that fails ends the run within a minute", False)
check("a run with a failed process writes no model",
      not os.path.exists(failed_model))

# processes fed the same frames (not shares of one list): refused, not
# trained on each frame twice
twice = f"{tmp}/twice.safetensors"
done = run(MPIRUN + ["-np", "2", "gst-launch-1.0", "-q", "videotestsrc",
                     "num-buffers=12", "!",
                     "video/x-raw,format=GRAY8,width=64,height=64", "!",
                     "cxrtrain", "label=NORMAL", f"output={twice}"],
           timeout=120)
check("processes fed the same frames: an error that says so, no model",
      done.returncode != 0 and "both hold frame" in done.stdout + done.stderr
      and not os.path.exists(twice), (done.stdout + done.stderr)[-300:])



# ---- two hosts: network namespaces joined by a veth pair ----
def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)


def link_bytes(ns, dev):
    """bytes received and sent on dev"""
    stats = json.loads(ip("-n", ns, "-s", "-j", "link", "show", dev).stdout)
    return stats[0]["stats64"]["rx"]["bytes"], stats[0]["stats64"]["tx"]["bytes"]


if os.geteuid() != 0 or subprocess.run(["which", "ip"],
                                       capture_output=True).returncode:
    skip_part("two hosts", "network namespaces need root and iproute2")
elif 1 not in models:
    check("two hosts: one process's model to compare with", False)
else:
    tag = str(os.getpid())
    hosts = {"10.77.0.1": "cxr-a" + tag, "10.77.0.2": "cxr-b" + tag}
    veth = ("cxa" + tag, "cxb" + tag)
    try:
        made = [ip("netns", "add", ns).returncode == 0 for ns in
                hosts.values()]
        steps = [("link", "add", veth[0], "type", "veth", "peer", "name",
                  veth[1])]
        for (address, ns), dev in zip(hosts.items(), veth):
            steps += [("link", "set", dev, "netns", ns),
                      ("-n", ns, "addr", "add", address + "/24", "dev", dev),
                      ("-n", ns, "link", "set", dev, "up"),
                      ("-n", ns, "link", "set", "lo", "up")]
        failed = [" ".join(step) for step in steps if ip(*step).returncode]
        check("two hosts: the namespaces and their link are made",
              all(made) and not failed, "; ".join(failed))
        before = link_bytes(hosts["10.77.0.2"], veth[1])
        agent = os.path.join(source, "tests", "pipelines", "netns-agent.sh")
        path = f"{tmp}/hosts.safetensors"
        done = run(["ip", "netns", "exec", hosts["10.77.0.1"], "mpirun",
                    "--mca", "plm_rsh_agent", agent, "--host",
                    "10.77.0.1:1,10.77.0.2:1", "-np", "2", "--mca", "btl",
                    "self,tcp", "--mca", "btl_tcp_if_include",
                    "10.77.0.0/24", "--mca", "oob_tcp_if_include",
                    "10.77.0.0/24", "gst-launch-1.0", "-q", "cxrdatasetsrc",
                    f"location={films}", "target-size=124", "!", "cxrtrain",
                    f"output={path}", "seed=1", *recipe],
                   env=dict(env, CXR_NETNS_MAP="10.77.0.2=" +
                            hosts["10.77.0.2"]))
        check("two hosts: training ends well", done.returncode == 0 and
              os.path.exists(path), done.stderr[-400:])
        if done.returncode == 0:
            meta, w = load(path)
            received, sent = link_bytes(hosts["10.77.0.2"], veth[1])
            # every step's gradients, each way, at the least
            gradients = sum(t.nbytes for t in w.values()) * 10
            check("two hosts: the gradients crossed the link",
                  min(received - before[0], sent - before[1]) >= gradients,
                  f"{(received - before[0]) / 1e6:.1f} MB in, "
                  f"{(sent - before[1]) / 1e6:.1f} MB out; 10 steps of "
                  f"gradients {gradients / 1e6:.1f} MB")
            median = weights_median(models[1][2], w)
            check(f"two hosts: weights within {WEIGHTS_MEDIAN} of one "
                  "process", median <= WEIGHTS_MEDIAN, f"{median:.2e}")
            check("two hosts: world_size 2", meta.get("world_size") == "2")
    finally:
        for ns in hosts.values():
            ip("netns", "del", ns)

subprocess.run(["rm", "-rf", tmp])
finish("mpi")

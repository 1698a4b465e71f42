"""Films a second through `cxr-run pacs --once` against Orthanc, and through
`cxr-run classify` on the same films in a folder, side by side in one run.

    pacs_rate.py BUILD_DIR SOURCE_DIR [FILMS] [ROUNDS]

FILMS DICOM chest radiographs (default 40, the sample films with made-up
patients, DCMTK's img2dcm) are stored into an Orthanc started on free
loopback ports. Each round times, one after the other: `cxr-run pacs
--once` over a fresh state file (fetch each film with WADO-RS, classify it,
store its report with STOW-RS; the archive keeps a report sent again once)
and `cxr-run classify` over the folder of the same files (JSON lines). It
prints each round's seconds and films a second, and one JSON object with
the medians. Ends skipped without Orthanc or DCMTK's tools.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import skip  # noqa: E402
from orthanc import Archive, PASSWORD, USER, installed, make_film  # noqa: E402

build, source = sys.argv[1:3]
n_films = int(sys.argv[3]) if len(sys.argv) > 3 else 40
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
if installed():
    skip(installed())
cxr_run = os.path.join(build, "pipelines", "tools", "cxr-run")
env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))
samples = sorted(os.path.join(d, f) for d, _, fs in
                 os.walk(os.path.join(source, "pipelines", "sample-films"))
                 for f in fs if f.endswith(".jpeg"))


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:2])} failed: {done.stderr[-500:]}")
    return seconds


with tempfile.TemporaryDirectory() as tmp:
    films = os.path.join(tmp, "films")
    os.mkdir(films)
    archive = Archive(os.path.join(tmp, "archive"))
    archive.start()
    try:
        for k in range(n_films):
            archive.upload(make_film(films, k, samples[k % len(samples)]))
        password = os.path.join(tmp, "password")
        with open(password, "w") as f:
            f.write(PASSWORD + "\n")
        pacs, classify = [], []
        for r in range(rounds):
            state = os.path.join(tmp, f"state{r}.json")
            pacs.append(timed([cxr_run, "pacs", "--once", "--url", archive.url, "--user", USER,
                               "--password-file", password, "--state", state]))
            classify.append(timed([cxr_run, "classify", films, "--output",
                                   os.path.join(tmp, f"results{r}.jsonl")]))
            print(f"round {r + 1}: cxr-run pacs --once {pacs[-1]:.2f} s "
                  f"({n_films / pacs[-1]:.1f} films/s), cxr-run classify {classify[-1]:.2f} s "
                  f"({n_films / classify[-1]:.1f} films/s)", flush=True)
    finally:
        archive.stop()

p, c = statistics.median(pacs), statistics.median(classify)
print(json.dumps({"films": n_films, "rounds": rounds,
                  "pacs_seconds": round(p, 3), "pacs_films_per_s": round(n_films / p, 1),
                  "classify_seconds": round(c, 3),
                  "classify_films_per_s": round(n_films / c, 1)}))

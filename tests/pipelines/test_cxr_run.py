"""cxr-run's command line: the version, each subcommand's --help, and what a
user sees when the command line or the job is wrong.

    test_cxr_run.py SOURCE_DIR BUILD_DIR

- `cxr-run --version` prints "cxr-run VERSION" (the project's) and exits 0.
- `cxr-run --help` lists the subcommands; `cxr-run` alone prints the usage
  on stderr and exits 2.
- `cxr-run SUBCOMMAND --help` exits 0 and describes the subcommand's options,
  for every subcommand (pacs's and listen's come from cxr-run-pacs and
  cxr-run-listen); --help is never taken for a FOLDER.
- An unknown option, an unknown subcommand, a missing FOLDER or a missing
  --output: a nonzero exit and one line on stderr naming what is wrong.
- A folder that is not there: one line, GStreamer's message, without its
  debug detail (source file, function, element path); with --verbose after
  the subcommand, or -v before it, the detail follows.
"""
import os
import re
import subprocess
import sys
import tempfile

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip, skip_part  # noqa: E402

source, build = sys.argv[1:3]
cxr_run = os.path.join(build, "pipelines", "tools", "cxr-run")
if not os.access(cxr_run, os.X_OK):
    skip(f"{cxr_run} is not built")
env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))

with open(os.path.join(source, "meson.build")) as f:
    version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)

# GStreamer's debug detail: "../plugin/gstcxrdatasetsrc.c(502): function ():
# /GstPipeline:pipeline0/..."
DEBUG_DETAIL = re.compile(r"\.c\(\d+\)|/GstPipeline:")

OPTIONS = {
    "classify": ["--model", "--output", "--summary", "--report", "--shard",
                 "--verbose"],
    "evaluate": ["--model", "--output", "--summary", "--report", "--shard",
                 "--verbose"],
    "merge": ["--shards", "--output", "--summary", "--verbose"],
    "train": ["--output", "--model", "--verbose", "NAME=VALUE"],
    "calibrate": ["--model", "--output", "--verbose", "NAME=VALUE"],
    "pacs": ["--url", "--user", "--password-file", "--ca-file", "--capture",
             "--model", "--state", "--once", "--interval", "--results",
             "--ae-title", "--verbose"],
    "listen": ["--results", "--output", "--port", "--ae-title",
               "--allowed-callers", "--spool", "--capture", "--model", "--retry",
               "--verbose"],
}


def run(*args):
    return subprocess.run([cxr_run, *args], env=env, capture_output=True,
                          text=True, timeout=120)


def said(done):
    """stderr's lines that say something"""
    return [line for line in done.stderr.splitlines() if line.strip()]


done = run("--version")
check("--version: 'cxr-run VERSION' and exit 0",
      done.returncode == 0 and done.stdout == f"cxr-run {version}\n",
      repr(done.stdout) + f", exit {done.returncode}")

done = run("--help")
missing = [name for name in OPTIONS
           if not re.search(rf"^\s+{name}\s+\S", done.stdout, re.M)]
check("--help: exit 0, every subcommand on a line of its own",
      done.returncode == 0 and not missing,
      f"exit {done.returncode}, missing {missing}")

done = run()
missing = [name for name in OPTIONS if name not in done.stderr]
check("no arguments: exit 2, the usage on stderr",
      done.returncode == 2 and not done.stdout and not missing,
      f"exit {done.returncode}, missing {missing}")

for name, options in OPTIONS.items():
    done = run(name, "--help")
    missing = [o for o in options if o not in done.stdout]
    check(f"{name} --help: exit 0, its usage and options",
          done.returncode == 0 and f"cxr-run {name}" in done.stdout
          and not missing and not done.stderr.strip(),
          f"exit {done.returncode}, missing {missing}; {done.stderr[-300:]}")

# -v before the subcommand reaches cxr-run-pacs too
done = run("-v", "pacs", "--help")
check("-v pacs --help: exit 0", done.returncode == 0 and "--url" in done.stdout,
      done.stderr[-300:])

wrong = [
    ("an unknown option", ["classify", "--no-such-option", "folder"], "--no-such-option"),
    ("an unknown global option", ["--no-such-option"], "--no-such-option"),
    ("an unknown pacs option", ["pacs", "--no-such-option"], "--no-such-option"),
    ("an unknown subcommand", ["frobnicate", "folder"], "frobnicate"),
    ("no FOLDER", ["classify"], "FOLDER"),
    ("a FOLDER too many", ["evaluate", "a", "b"], "'b'"),
    ("train without --output", ["train", "folder"], "--output"),
    ("calibrate without --model", ["calibrate", "folder", "--output", "m"], "--model"),
    ("a train setting that is not NAME=VALUE", ["train", "f", "--output", "m", "epochs"],
     "'epochs'"),
    ("pacs without --url", ["pacs"], "--url"),
    ("an unknown listen option", ["listen", "--no-such-option"], "--no-such-option"),
    ("listen with nowhere for the reports", ["listen"], "--results"),
]
for what, args, named in wrong:
    done = run(*args)
    lines = said(done)
    check(f"{what}: nonzero exit, one line naming it",
          done.returncode != 0 and len(lines) == 1 and named in lines[0]
          and lines[0].startswith("cxr-run"),
          f"exit {done.returncode}: {done.stderr.strip()[-300:]}")

with tempfile.TemporaryDirectory() as tmp:
    folder = os.path.join(tmp, "no-such-folder")
    out = os.path.join(tmp, "results.jsonl")
    done = run("classify", folder, "--output", out)
    if "GST_PLUGIN_PATH" in done.stderr:
        skip_part("a missing folder's message", "the cxr plugin is not loadable: "
                  + done.stderr.strip()[-200:])
    else:
        lines = said(done)
        check("a missing folder: exit 1, one line naming it, no debug detail",
              done.returncode == 1 and len(lines) == 1 and folder in lines[0]
              and not DEBUG_DETAIL.search(done.stderr),
              f"exit {done.returncode}: {done.stderr.strip()[-400:]}")
        for how, args in (("--verbose after classify",
                           ["classify", folder, "--output", out, "--verbose"]),
                          ("-v before classify",
                           ["-v", "classify", folder, "--output", out])):
            done = run(*args)
            check(f"a missing folder, {how}: the debug detail follows the message",
                  done.returncode == 1 and folder in done.stderr
                  and DEBUG_DETAIL.search(done.stderr) is not None,
                  f"exit {done.returncode}: {done.stderr.strip()[-400:]}")

finish("cxr-run")

#!/usr/bin/python3
"""Hostile input, as a hospital's folders and files will bring it: each gets
a clear message, and the rest of the run is unharmed.

  1. a class folder of broken, misnamed, huge-claiming and strange files
     beside good ones, and file names with quotes, backslashes, newlines
     and invalid UTF-8, through cxrdatasetsrc ! cxrclassify ! cxrmetasink:
     the good files are answered, one valid JSON object per line, the rest
     skipped with a reason, and memory stays small;
  2. broken model files given to cxrclassify: an error that names the
     problem, never a crash;
  3. odd frames: 1x1, odd strides, the size changing on every frame.

It prints a table, input and what happened, for the README.

    test_hostile.py SOURCE BUILD

Run it with /usr/bin/python3 (numpy, PIL). The good files are copies of
one of the project's sample films. Skips (exit 77) without DCMTK's
dump2dcm.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402

source, build = sys.argv[1:3]
sys.path.insert(0, os.path.join(source, "tests"))
import safetensors_np  # noqa: E402

good_jpeg = os.path.join(source, "pipelines", "sample-films", "NORMAL", "IM-0199-0001.jpeg")
if not shutil.which("dump2dcm"):
    skip("DCMTK's dump2dcm (Debian package dcmtk) is not installed")

env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))
model = os.path.join(source, "models", "default.safetensors")
table = []



def gst(*args):
    return subprocess.run(["gst-launch-1.0", "-q", *args], env=env, capture_output=True)


def dicom(path, header):
    """A DICOM file made by dump2dcm from header lines and 4 pixel bytes."""
    text = path + ".txt"
    with open(text, "w") as f:
        f.write("(0002,0010) UI [1.2.840.10008.1.2.1]\n"
                "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.1.1]\n"
                "(0008,0018) UI [1.2.3.4.5]\n(0008,0060) CS [DX]\n"
                "(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n" + header +
                "(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n"
                "(0028,0103) US 0\n(7fe0,0010) OB 00\\01\\02\\03\n")
    subprocess.run(["dump2dcm", "-q", text, path], check=True)
    os.remove(text)


def png_claiming(path, width, height):
    """A PNG whose header claims a size, with a few bytes of image data."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def unescape(text):
    """A GstStructure string field as written by gst-launch -m."""
    return re.sub(r"\\(.)", r"\1", text)


with tempfile.TemporaryDirectory() as tmp:
    # 1. a hostile class folder
    folder = os.path.join(tmp, "films", "NORMAL")
    os.makedirs(folder)
    with open(good_jpeg, "rb") as f:
        jpeg = f.read()
    good = {"good.jpeg": "a good JPEG",
            'quote"name.jpeg': "a name with a quote",
            "back\\slash.jpeg": "a name with a backslash",
            "new\nline.jpeg": "a name with a newline",
            "misnamed.png": "a JPEG named .png"}
    for name in good:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(jpeg)
    bad_utf8 = os.path.join(os.fsencode(folder), b"invalid\xff-utf8.jpeg")
    with open(bad_utf8, "wb") as f:
        f.write(jpeg)
    broken = {}
    open(os.path.join(folder, "zero.jpeg"), "wb").close()
    broken["zero.jpeg"] = "a zero-byte file"
    with open(os.path.join(folder, "truncated.jpeg"), "wb") as f:
        f.write(jpeg[:len(jpeg) * 2 // 5])
    broken["truncated.jpeg"] = "a JPEG cut at 40%"
    with open(os.path.join(folder, "corrupt.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + os.urandom(3000))
    broken["corrupt.png"] = "a PNG signature and noise"
    png_claiming(os.path.join(folder, "huge.png"), 60000, 60000)
    broken["huge.png"] = "a PNG header claiming 60000x60000"
    dicom(os.path.join(folder, "frames.dcm"),
          "(0028,0008) IS [1000000]\n(0028,0010) US 512\n(0028,0011) US 512\n")
    broken["frames.dcm"] = "a DICOM header claiming 10^6 frames of 512x512"
    dicom(os.path.join(folder, "sides.dcm"), "(0028,0010) US 60000\n(0028,0011) US 60000\n")
    broken["sides.dcm"] = "a DICOM header claiming 60000x60000"
    with open(os.path.join(source, "tests", "fuzz", "crashes", "dicom",
                           "element-claims-4gib-b.dcm"), "rb") as f:
        claim = f.read()[1:]            # the fuzz target's option byte off
    with open(os.path.join(folder, "element.dcm"), "wb") as f:
        f.write(claim)
    broken["element.dcm"] = "a DICOM element claiming 4 GiB in a 150-byte file"
    os.symlink("loop", os.path.join(folder, "loop"))
    broken["loop"] = "a symlink loop"
    os.mkfifo(os.path.join(folder, "fifo"))
    broken["fifo"] = "a FIFO"

    out = os.path.join(tmp, "out.jsonl")
    log_path = os.path.join(tmp, "messages.txt")
    with open(log_path, "wb") as log_file:
        child = subprocess.Popen(["gst-launch-1.0", "-m", "cxrdatasetsrc",
                                  f"location={os.path.dirname(folder)}", "!", "cxrclassify",
                                  "!", "cxrmetasink", f"location={out}",
                                  "print-summary=false"],
                                 env=env, stdout=log_file, stderr=subprocess.STDOUT)
        # this child's own peak, not that of the tools run before it
        _, status, usage = os.wait4(child.pid, 0)
    peak_mb = usage.ru_maxrss / 1024
    with open(log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    ran = os.waitstatus_to_exitcode(status) == 0
    check("the hostile folder runs to the end", ran, "" if ran else log[-500:])
    with open(out, "rb") as f:
        raw = f.read()
    rows = [json.loads(line) for line in raw.decode("utf-8").split("\n") if line]
    check("every line of the results is one valid JSON object",
          raw.count(b"\n") == len(rows) and all(isinstance(r, dict) for r in rows))
    answered = {os.path.basename(r["file"]) for r in rows}
    want = set(good) | {"invalid\ufffd-utf8.jpeg"}
    check("the good files are answered, whatever their names", want <= answered,
          str(sorted(answered)))
    check("no broken file is answered", not (set(broken) & answered), str(sorted(answered)))
    skipped = log.count("cxrdatasetsrc-skipped")
    check("the broken files are skipped with a reason (regular files among them)",
          skipped >= len(broken) - 2, f"{skipped} skip messages")
    check("memory stays small (no claimed size is allocated)", peak_mb < 1024,
          f"peak {peak_mb:.0f} MB")
    print(f"     peak resident memory of the run: {peak_mb:.0f} MB")
    for name, what in good.items():
        table.append((what, "classified" if name in answered else "NOT classified"))
    table.append(("a name that is not valid UTF-8", "classified; the JSON name has U+FFFD"
                  if "invalid\ufffd-utf8.jpeg" in answered else "NOT classified"))
    for name, what in broken.items():
        reason = "skipped"
        for line in log.splitlines():
            if "cxrdatasetsrc-skipped" in line and name in line:
                reason = "skipped: " + unescape(line.split("reason=(string)")[-1]
                                                .strip(' ";'))[:200]
                break
        else:
            if name in ("loop", "fifo"):
                reason = "not listed (not a regular file)"
        table.append((what, reason))

    # 2. broken model files
    tensors, meta = safetensors_np.load(model)
    with open(model, "rb") as f:
        raw_model = f.read()
    first = next(iter(tensors))

    def variant(name, **changes):
        t, m = dict(tensors), dict(meta)
        for k, v in changes.items():
            if k == "nan":
                t[first] = t[first].copy()
                t[first].flat[0] = np.nan
            elif k == "shape":
                t[first] = t[first].reshape(-1)
            else:
                m[k] = v
        path = os.path.join(tmp, name)
        safetensors_np.save(path, t, m)
        return path

    def write(name, content):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    models = [
        ("a model file cut in half", write("cut.safetensors", raw_model[:len(raw_model) // 2]),
         "beyond the end"),
        ("a header length of 2^40", write("len.safetensors", struct.pack("<Q", 1 << 40) + b"{}"),
         "header"),
        ("a header of 400,000 '['", write("deep.safetensors", struct.pack("<Q", 400000)
                                          + b"[" * 400000), "nested deeper"),
        ("a NaN weight", variant("nan.safetensors", nan=True), "non-finite"),
        ("a tensor of the wrong shape", variant("shape.safetensors", shape=True), "shape"),
        ("an unknown layer in the spec", variant("spec.safetensors",
                                                 layers="conv:8 wobble dense:1 sigmoid"),
         "wobble"),
        ("a future format version", variant("future.safetensors", format="gst-cxr-model 99"),
         "gst-cxr-model 99"),
        ("metadata asking for 59 GB of weights", variant(
            "absurd.safetensors", layers="flatten dense:60000 dense:1 sigmoid", members="16"),
         "the layer spec gives it"),
        ("17 classes", variant("classes.safetensors", layers="gap dense:17 softmax",
                               classes=",".join(f"C{i}" for i in range(17))), "16 supported"),
    ]
    for what, path, phrase in models:
        done = gst("videotestsrc", "num-buffers=1", "!", "cxrclassify", f"model={path}",
                   "!", "fakesink")
        err = done.stderr.decode("utf-8", "replace") + done.stdout.decode("utf-8", "replace")
        message = next((line for line in err.splitlines() if "Cannot use the model" in line),
                       "").replace(path, "FILE")
        message = message[message.find("Cannot use the model"):][:220]
        # gst-launch exits 255 (-1) on an error; a signal would be negative
        check(f"model: {what}: refused with a message ({phrase!r}), no crash",
              done.returncode > 0 and phrase in err, f"exit {done.returncode}: {message}")
        table.append(("model file: " + what, "refused: " + message))

    # 3. odd frames
    for what, caps in (("1x1 frames", "video/x-raw,format=GRAY8,width=1,height=1"),
                       ("7x5 RGB frames (odd stride)", "video/x-raw,format=RGB,width=7,height=5"),
                       ("3x2 BGRx frames", "video/x-raw,format=BGRx,width=3,height=2")):
        done = gst("videotestsrc", "num-buffers=3", "!", caps, "!", "cxrclassify", "!",
                   "fakesink")
        check(what + " pass", done.returncode == 0, done.stderr.decode()[-300:])
        table.append((what, "classified (or abstained), no error" if done.returncode == 0
                      else "FAILED"))

print()
print("| input | what happens |")
print("|---|---|")
for what, result in table:
    print(f"| {what} | {result} |")
finish("hostile-input")

"""DICOM in whole pipelines: DICOM files among JPEGs in a folder, the same
X-ray classified from JPEG and from its DICOM copies, and a 30 fps DICOM
cine played live through cxrclassify interval=10.

    test_dicom_pipelines.py SOURCE_DIR BUILD_DIR

The X-ray is one of the project's sample films. DICOM copies are made
with DCMTK's own converters (img2dcm, dcmdjpeg); the cine is written here
(uncompressed, explicit VR little endian). Skips (exit 77) without them.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402

source, build = sys.argv[1:3]
# a NORMAL film: its P(PNEUMONIA) is far from 0 and 1, so small
# differences in the pixels would show
jpeg = os.path.join(source, "pipelines", "sample-films", "NORMAL", "IM-0199-0001.jpeg")
if not shutil.which("img2dcm") or not shutil.which("dcmdjpeg"):
    skip("DCMTK's img2dcm and dcmdjpeg (Debian package dcmtk) are not installed")

env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))



def run(cmd, **kw):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        print(" ".join(cmd), "failed:\n", done.stdout[-2000:], done.stderr[-2000:])
    return done


def element(tag, vr, value):
    """One data element, explicit VR little endian."""
    group, elem = tag
    if vr in ("OB", "OW", "UN", "SQ", "UT"):
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value


def text(s):
    b = s.encode()
    return b + (b" " if len(b) % 2 else b"")


def uid(s):
    b = s.encode()
    return b + (b"\0" if len(b) % 2 else b"")


def write_cine(path, frames, frame_time_ms, modality="OT", sop="1.2.3.4.5.6.7.8.9"):
    """A multi-frame 8-bit MONOCHROME2 secondary-capture object."""
    n, rows, cols = frames.shape
    ts = "1.2.840.10008.1.2.1"
    sop_class = "1.2.840.10008.5.1.4.1.1.7"
    meta = (element((2, 1), "OB", b"\0\1") + element((2, 2), "UI", uid(sop_class))
            + element((2, 3), "UI", uid(sop)) + element((2, 0x10), "UI", uid(ts)))
    body = b"".join([
        element((8, 0x16), "UI", uid(sop_class)), element((8, 0x18), "UI", uid(sop)),
        element((8, 0x60), "CS", text(modality)),
        element((0x18, 0x1063), "DS", text(f"{frame_time_ms:.4f}")),
        element((0x28, 2), "US", struct.pack("<H", 1)),
        element((0x28, 4), "CS", text("MONOCHROME2")),
        element((0x28, 8), "IS", text(str(n))),
        element((0x28, 0x10), "US", struct.pack("<H", rows)),
        element((0x28, 0x11), "US", struct.pack("<H", cols)),
        element((0x28, 0x100), "US", struct.pack("<H", 8)),
        element((0x28, 0x101), "US", struct.pack("<H", 8)),
        element((0x28, 0x102), "US", struct.pack("<H", 7)),
        element((0x28, 0x103), "US", struct.pack("<H", 0)),
        element((0x7FE0, 0x10), "OB", frames.astype(np.uint8).tobytes()),
    ])
    group_length = element((2, 0), "UL", struct.pack("<I", len(meta)))
    with open(path, "wb") as f:
        f.write(b"\0" * 128 + b"DICM" + group_length + meta + body)


def jsonl(text_or_path):
    if os.path.exists(text_or_path):
        with open(text_or_path) as f:
            text_or_path = f.read()
    return [json.loads(x) for x in text_or_path.splitlines() if x.startswith("{")]


with tempfile.TemporaryDirectory() as tmp:
    # 1. DICOM copies of one X-ray beside the JPEG, in one folder
    folder = os.path.join(tmp, "mixed")
    os.makedirs(folder)
    shutil.copy(jpeg, os.path.join(folder, "a.jpeg"))
    done = run(["img2dcm", "-i", "JPEG", jpeg, os.path.join(folder, "b-baseline.dcm")])
    check("img2dcm makes a JPEG-baseline DICOM", done.returncode == 0)
    done = run(["dcmdjpeg", os.path.join(folder, "b-baseline.dcm"),
                os.path.join(folder, "c-uncompressed")])
    check("dcmdjpeg makes an uncompressed DICOM without extension", done.returncode == 0)
    out = os.path.join(tmp, "mixed.jsonl")
    done = run(["gst-launch-1.0", "-q", "cxrdatasetsrc", f"location={folder}",
                "!", "cxrclassify", "precision=fp32", "!", "cxrmetasink",
                f"location={out}", "print-summary=false"])
    check("a folder of JPEG and DICOM files classifies", done.returncode == 0)
    if done.returncode == 0:
        results = jsonl(out)
        files = [r["file"] for r in results]
        check("all three files read, DICOM with and without extension",
              files == ["a.jpeg", "b-baseline.dcm", "c-uncompressed"], str(files))
        p = [r["probabilities"][1] for r in results]
        labels = {r["label"] for r in results}
        # the same pixels (DCMTK's and libjpeg-turbo's decoders of the same
        # JPEG data may differ by one grey level): the same answer
        check("the same X-ray from JPEG and DICOM: the same result",
              len(p) == 3 and len(labels) == 1 and max(p) - min(p) < 0.01,
              f"P(PNEUMONIA) {', '.join(f'{v:.4f}' for v in p)}")

    # a CT object of the same pixels beside them gets no diagnosis: the
    # label meta carries its modality to cxrclassify's gate
    pixels = np.asarray(Image.open(jpeg).convert("L").resize((256, 256), Image.BOX))
    write_cine(os.path.join(folder, "d-ct.dcm"), pixels[None], 0, modality="CT",
               sop="1.2.3.4.5.6.7.8.10")
    done = run(["gst-launch-1.0", "-q", "cxrdatasetsrc", f"location={folder}",
                "!", "cxrclassify", "!", "cxrmetasink", f"location={out}",
                "print-summary=false"])
    results = jsonl(out) if done.returncode == 0 else []
    check("a CT object in the folder is not classified (modality), the rest are",
          [(r["file"], r["abstained"], r["reason"]) for r in results][-1]
          == ("d-ct.dcm", True, "modality")
          and not any(r["abstained"] for r in results[:-1]),
          str([(r["file"], r["reason"]) for r in results]))
    os.remove(os.path.join(folder, "d-ct.dcm"))

    # 2. decodebin finds the decoder by itself (typefinder)
    out = os.path.join(tmp, "decodebin.jsonl")
    done = run(["gst-launch-1.0", "-q", "filesrc",
                f"location={os.path.join(folder, 'c-uncompressed')}", "!",
                "decodebin", "!", "videoconvert", "!", "cxrclassify", "!",
                "cxrmetasink", f"location={out}", "print-summary=false"])
    check("filesrc ! decodebin picks cxrdicomdec", done.returncode == 0
          and len(jsonl(out)) == 1)

    # 3. a 30 fps cine, 2 s, played live: every frame must reach a clock-
    # synchronised sink in time (late frames would be dropped by it:
    # max-lateness one frame), while results keep updating
    img = Image.open(jpeg).convert("L").resize((256, 256), Image.BOX)
    base = np.asarray(img, np.float32)
    frames = np.stack([np.clip(base * (0.8 + 0.2 * (i % 15) / 15), 0, 255)
                       for i in range(60)])
    cine = os.path.join(tmp, "cine.dcm")
    write_cine(cine, frames, 1000 / 30)
    results_path = os.path.join(tmp, "cine.jsonl")
    done = run(["bash", os.path.join(source, "pipelines", "dicom-capture.sh"), cine,
                results_path], timeout=60)
    check("the DICOM capture recipe exits 0", done.returncode == 0)
    if done.returncode == 0:
        results = jsonl(results_path)
        fresh = [r for r in results if not r["stale"]]
        qos = [line for line in done.stdout.splitlines()
               if '"display"' in line and "(qos)" in line]
        check("cine: all 60 frames reach the results", len(results) == 60,
              f"{len(results)} frames")
        check("cine: results keep updating (every 10th frame fresh)",
              len(fresh) >= 6, f"{len(fresh)} fresh")
        check("cine: timestamps from the frame time (30 fps)",
              len(results) > 30 and abs(results[30]["pts"] - 1_000_000_000) < 1_000_000,
              str(results[30]["pts"] if len(results) > 30 else None))
        check("cine: each result names its SOP Instance UID and frame",
              [r["file"] for r in results[:2]] == ["1.2.3.4.5.6.7.8.9#0",
                                                   "1.2.3.4.5.6.7.8.9#1"],
              str([r["file"] for r in results[:2]]))
        check("cine: the clock-synchronised display dropped no frame as late",
              not qos, f"{len(qos)} QoS messages")
        # a secondary capture (modality OT) is not a chest radiograph
        check("cine: no frame of an OT object is diagnosed",
              all(r["abstained"] and r["reason"] == "modality" and r["label"] is None
                  for r in results), str({r["reason"] for r in results}))

finish("DICOM pipeline")

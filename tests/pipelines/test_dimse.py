"""cxrdicomsink storing by DIMSE C-STORE: url=dicom://AET@HOST:PORT.

    test_dimse.py SOURCE_DIR BUILD_DIR

Against DCMTK's storescp on a loopback port:
- a film's report and picture (capture=true) arrive, whole: storescp's
  files hold the data elements of the objects written to a folder by the
  same sink;
- the calling AE title is ae-title's;
- a node that rejects the association (storescp --refuse) stops the
  pipeline with an error that names the node, at once, with no retry;
- a node that comes up a few seconds late gets the objects: the failed
  associations are tried again with back-off;
- a url that is not dicom://AET@HOST:PORT, and an ae-title that is not an
  AE title: an error that says what it takes.
Skips (exit 77) without DCMTK's tools or pydicom.
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402

source, build = sys.argv[1:3]
for tool in ("img2dcm", "storescp"):
    if not shutil.which(tool):
        skip(f"DCMTK's {tool} (Debian package dcmtk) is not installed")
try:
    import pydicom
except ImportError:
    skip("pydicom (Debian package python3-pydicom) is not installed")

env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))
film_jpeg = sorted(glob.glob(os.path.join(source, "pipelines", "sample-films",
                                          "PNEUMONIA", "*.jpeg")))[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def storescp(port, folder, *options):
    os.makedirs(folder, exist_ok=True)
    return subprocess.Popen(["storescp", "-aet", "ARCHIVE", "-od", folder,
                             *options, str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def pipeline(sink, timeout=120):
    cmd = ["gst-launch-1.0", "filesrc", f"location={film}", "!", "cxrdicomdec",
           "!", "cxrclassify", "heatmap=true", "!", "videoconvert", "!",
           "cxroverlay", "!", "videoconvert", "!", "cxrdicomsink", *sink]
    return subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def datasets(folder):
    """{SOP Instance UID: data set} of a folder's DICOM files"""
    found = {}
    for path in glob.glob(os.path.join(folder, "*")):
        ds = pydicom.dcmread(path)
        found[ds.SOPInstanceUID] = ds
    return found


def same_elements(a, b):
    """the same data elements with the same values, whatever the encoding"""
    return (sorted(e.tag for e in a) == sorted(e.tag for e in b)
            and all(a[e.tag].value == e.value for e in b))


tmp = tempfile.mkdtemp(prefix="cxr-dimse-")
film = os.path.join(tmp, "film.dcm")
done = subprocess.run(["img2dcm", "-q", film_jpeg, film, "-k", "Modality=DX",
                       "-k", "BodyPartExamined=CHEST", "-k",
                       "PatientName=Kowalczyk^Ewa", "-k", "PatientID=MRN8812"],
                      capture_output=True, text=True)
if done.returncode:
    skip("img2dcm cannot convert a sample film")

# to a node and, the same objects, to a folder, to compare with
port = free_port()
received = os.path.join(tmp, "received")
folder = os.path.join(tmp, "folder")
node = storescp(port, received, "--log-level", "debug")
time.sleep(1)
try:
    done = pipeline([f"url=dicom://ARCHIVE@127.0.0.1:{port}", "capture=true",
                     "ae-title=CXRNODE", f"location={folder}"])
    check("to a node: the pipeline ends well", done.returncode == 0,
          done.stderr[-300:])
    time.sleep(0.5)
    want = datasets(folder)
    got = datasets(received)
    check("the node got the report and the picture, the objects a folder gets",
          sorted(got) == sorted(want) and all(
              same_elements(got[u], want[u]) for u in want),
          f"{len(got)} objects")
finally:
    node.terminate()
    log, _ = node.communicate()
check("the node was called by ae-title",
      "Calling Application Name:    CXRNODE" in log
      or "CXRNODE" in [w.strip("'") for w in log.split()], log[-300:])

# a node that refuses the association: no retry, an error naming it
port = free_port()
node = storescp(port, os.path.join(tmp, "refusing"), "--refuse")
time.sleep(1)
try:
    started = time.monotonic()
    done = pipeline([f"url=dicom://ARCHIVE@127.0.0.1:{port}"])
    took = time.monotonic() - started
finally:
    node.terminate()
    node.communicate()
check("a node that rejects the association: an error naming it, at once",
      done.returncode != 0 and f"ARCHIVE@127.0.0.1:{port}" in done.stderr
      and "rejected" in done.stderr and took < 15,
      f"{took:.1f} s: {done.stderr[-300:]}")

# a node that comes up late: the associations are tried again
port = free_port()
late = os.path.join(tmp, "late")
started = time.monotonic()
job = subprocess.Popen(["gst-launch-1.0", "filesrc", f"location={film}", "!",
                        "cxrdicomdec", "!", "cxrclassify", "!", "cxrdicomsink",
                        f"url=dicom://ARCHIVE@127.0.0.1:{port}"],
                       env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
time.sleep(4)
node = storescp(port, late)
try:
    out, err = job.communicate(timeout=60)
finally:
    node.terminate()
    node.communicate()
check("a node up 4 s late gets the report: tried again with back-off",
      job.returncode == 0 and len(os.listdir(late)) == 1,
      f"{time.monotonic() - started:.1f} s: {err[-300:]}")

for sink, what in ((["url=dicom://127.0.0.1:104"], "dicom://AET@HOST:PORT"),
                   (["url=dicom://ARCHIVE@127.0.0.1:104",
                     "ae-title=ABCDEFGHIJKLMNOPQ"], "AE title")):
    done = pipeline(sink)
    check(f"{' '.join(sink)}: an error that says what it takes",
          done.returncode != 0 and what in done.stderr, done.stderr[-300:])

shutil.rmtree(tmp)
finish("DIMSE")

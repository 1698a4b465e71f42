"""The AI node against a real archive: `cxr-run listen` (cxrdicomsrc !
cxrdicomdec ! cxrclassify ! cxrdicomsink url=dicom://...) between Orthanc,
started here on free loopback ports, and DCMTK's storescu/echoscu.

    test_dicom_node.py SOURCE_DIR BUILD_DIR

- C-ECHO answered; a called AE title that is not the node's refused.
- Orthanc pushes films to the node (REST /modalities/{id}/store) and gets
  the reports back by C-STORE: one per film, in the film's study, with the
  finding and P(PNEUMONIA) cxrclassify gives the same file.
- Refused, and nothing kept: a calling AE title not allowed (Orthanc's
  push with another LocalAet), a SOP class the node cannot classify (a
  structured report), a transfer syntax it cannot decode (JPEG 2000), an
  image whose data cannot be decoded (a failure status, so the sender
  retries), an association aborted mid-transfer (a proxy that cuts the
  connection); the same film sent again afterwards gets its report.
- Orthanc stopped while reports are due, then started: every film one
  report, none doubled.
- Four senders at once, 25 films each: 100 reports, one per film.
- The node killed with SIGKILL while films wait in its spool (reports
  slowed by a proxy), then started again on the same spool: every film
  storescu was told was accepted has exactly one report.
- No patient value in anything the node printed, its elements' debug log
  at LOG included; the spool empty at the end.

Skips (exit 77) without Orthanc, DCMTK's tools or pydicom.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402
from orthanc import (Archive, classify_locally, free_port, installed, leaked,  # noqa: E402
                     make_film)
from sr_reading import label as answer_of, probability  # noqa: E402

source, build = sys.argv[1:3]
if installed():
    skip(installed())
for tool in ("img2dcm", "storescu", "echoscu"):
    if not shutil.which(tool):
        skip(f"DCMTK's {tool} (Debian package dcmtk) is not installed")
try:
    import pydicom
except ImportError:
    skip("pydicom (Debian package python3-pydicom) is not installed")

cxr_run = os.path.join(build, "pipelines", "tools", "cxr-run")
env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))
films = sorted(glob.glob(os.path.join(source, "pipelines", "sample-films", "*", "*.jpeg")))
SENDERS = ["SEND1", "SEND2", "SEND3", "SEND4"]


class Proxy:
    """A loopback port whose connections are passed to target's: each one
    after delay seconds, and cut (both sides closed) once the sender has
    sent more than cut_after bytes"""
    def __init__(self, target, delay=0.0, cut_after=None):
        self.target, self.delay, self.cut_after = target, delay, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.pass_on, args=(client,), daemon=True).start()

    def pass_on(self, client):
        time.sleep(self.delay)
        try:
            server = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            client.close()
            return
        threading.Thread(target=self.pump, args=(server, client, None), daemon=True).start()
        self.pump(client, server, self.cut_after)

    @staticmethod
    def pump(a, b, cut_after):
        sent = 0
        try:
            while True:
                data = a.recv(4096)
                if not data:
                    break
                sent += len(data)
                if cut_after is not None and sent > cut_after:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()


def storescu(port, aet, paths, called="CXR"):
    return subprocess.run(["storescu", "-aet", aet, "-aec", called, "-xy", "127.0.0.1",
                           str(port), *paths], capture_output=True, text=True, timeout=300)


def sop_uid(path):
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def in_spool(spool):
    return sorted(os.listdir(spool)) if os.path.isdir(spool) else []


class Node:
    """cxr-run listen on port, its reports stored in results, its output
    (with the cxr elements' debug log, at LOG) appended to log"""
    def __init__(self, folder, port, results):
        self.port, self.results = port, results
        self.spool = os.path.join(folder, "spool")
        self.log = os.path.join(folder, "node.log")
        self.process = None

    def start(self, results=None):
        starts = self.printed().count("listening on port")
        self.process = subprocess.Popen(
            [cxr_run, "listen", "--results", results or self.results, "--port", str(self.port),
             "--ae-title", "CXR", "--allowed-callers", ",".join(["ARCHIVE"] + SENDERS),
             "--spool", self.spool, "--retry", "2"],
            env=dict(env, GST_DEBUG="cxr*:LOG", GST_DEBUG_NO_COLOR="1"),
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline and self.process.poll() is None:
            if self.printed().count("listening on port") > starts:
                return
            time.sleep(0.1)
        skip("cxr-run listen did not start: " + self.printed()[-500:])

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)
        self.process = None

    def printed(self):
        return open(self.log).read() if os.path.exists(self.log) else ""


def sr_count(archive):
    """how many reports the archive holds"""
    series = archive.post("/tools/find", {"Level": "Series", "Query": {"Modality": "SR"},
                                          "Expand": True})
    return sum(len(s["Instances"]) for s in series)


def wait_until(what, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if what():
            return True
        time.sleep(0.5)
    return False


def wait_answered(archive, node, count):
    """until the archive holds count reports and the node's spool is empty"""
    return wait_until(lambda: not in_spool(node.spool) and sr_count(archive) >= count)


def wrong_reports(found, sent):
    """what is wrong with the reports found for the films sent ({film SOP
    Instance UID: (path, (label, P))}): each needs exactly one, in the
    film's study, with the film's finding and P"""
    wrong = []
    for uid, (path, (label, p)) in sent.items():
        reports = found.get(uid, [])
        if len(reports) != 1:
            wrong.append(f"{os.path.basename(path)}: {len(reports)} reports")
            continue
        sr = reports[0][0]
        image = pydicom.dcmread(path, stop_before_pixels=True)
        if (sr.StudyInstanceUID != image.StudyInstanceUID or answer_of(sr) != label
                or abs(probability(sr) - p) >= 1e-4):
            wrong.append(f"{os.path.basename(path)}: {answer_of(sr)} {probability(sr):.4f} "
                         f"against {label} {p:.4f}")
    return wrong


with tempfile.TemporaryDirectory() as tmp:
    films_dir = os.path.join(tmp, "films")
    os.mkdir(films_dir)
    # what cxrclassify says of each sample film, as DICOM; film k is
    # sample film k % 8 of patient k
    expected = [classify_locally(make_film(films_dir, 900 + i, f), env)
                for i, f in enumerate(films)]

    def film(k):
        path = make_film(films_dir, k, films[k % len(films)])
        return path, sop_uid(path), expected[k % len(films)]

    node_port = free_port()
    archive = Archive(os.path.join(tmp, "archive"),
                      modalities={"cxr": ["CXR", "127.0.0.1", node_port],
                                  "not-cxr": ["NOTCXR", "127.0.0.1", node_port]})
    archive.start()
    node = Node(tmp, node_port, f"dicom://ARCHIVE@127.0.0.1:{archive.dicom_port}")
    node.start()
    sent = {}                      # every film the node accepted
    used = []                      # every patient the node saw
    try:
        # C-ECHO, by the node's AE title and by another
        done = subprocess.run(["echoscu", "-aet", "SEND1", "-aec", "CXR", "127.0.0.1",
                               str(node_port)], capture_output=True, text=True)
        check("C-ECHO answered", done.returncode == 0, done.stderr[-300:])
        done = subprocess.run(["echoscu", "-aet", "SEND1", "-aec", "NOTCXR", "127.0.0.1",
                               str(node_port)], capture_output=True, text=True)
        check("a called AE title not the node's: refused", done.returncode != 0
              and "Called AE Title Not Recognized" in done.stderr, done.stderr[-300:])

        # the round trip: Orthanc pushes four films, gets four reports
        ids = []
        for k in range(4):
            path, uid, answer = film(k)
            ids.append(archive.upload(path))
            sent[uid] = (path, answer)
        used += range(4)
        archive.post("/modalities/cxr/echo", {})
        archive.post("/modalities/cxr/store", {"Resources": ids, "Synchronous": True},
                     timeout=120)
        wait_answered(archive, node, 4)
        found = archive.reports()
        wrong = wrong_reports(found, sent)
        check("Orthanc pushed 4 films, got 4 reports back by C-STORE, one per film in its "
              "study with cxrclassify's finding and P", not wrong, "; ".join(wrong))
        one = os.path.basename(next(iter(found.values()))[0][1])[:-len(".dcm")]
        calling = archive.call(f"/instances/{one}/metadata/RemoteAET").decode()
        check("the reports come by C-STORE from the node's AE title", calling == "CXR", calling)

        # refused, and nothing kept
        path, uid, answer = film(10)
        used.append(10)
        stranger = archive.upload(path)
        try:
            archive.post("/modalities/cxr/store", {"Resources": [stranger], "Synchronous": True,
                                                   "LocalAet": "STRANGER"}, timeout=120)
            refused = False
        except urllib.error.HTTPError:
            refused = True
        check("a calling AE title not allowed: Orthanc's push fails, the node says why",
              refused and "Refused an association from 'STRANGER'" in node.printed()
              and not in_spool(node.spool))
        try:
            archive.post("/modalities/not-cxr/store", {"Resources": [stranger],
                                                       "Synchronous": True}, timeout=120)
            refused = False
        except urllib.error.HTTPError:
            refused = True
        check("a called AE title not the node's: Orthanc's push fails", refused
              and not in_spool(node.spool))

        report = next(iter(found.values()))[0][1]
        done = storescu(node_port, "SEND1", [report])
        check("a structured report: refused at association (no presentation context)",
              done.returncode != 0 and "No presentation context" in done.stderr
              and not in_spool(node.spool), done.stderr[-300:])

        j2k = pydicom.dcmread(path)
        j2k.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
        j2k.SOPInstanceUID = j2k.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        j2k_path = os.path.join(tmp, "j2k.dcm")
        j2k.save_as(j2k_path)
        done = subprocess.run(["storescu", "-aet", "SEND1", "-aec", "CXR", "-xv", "127.0.0.1",
                               str(node_port), j2k_path], capture_output=True, text=True)
        # storescu proposes JPEG 2000 and the uncompressed syntaxes; with
        # JPEG 2000 refused it would have to decode the film to send it
        check("JPEG 2000: refused at association (storescu cannot send the film as it is)",
              done.returncode != 0 and "unable to convert dataset from 'JPEG 2000" in done.stderr
              and not in_spool(node.spool), done.stderr[-300:])

        data = bytearray(open(path, "rb").read())
        start = data.find(b"\xff\xd8\xff")
        data[start + 2:start + 602] = b"\x00" * 600
        broken = os.path.join(tmp, "broken.dcm")
        open(broken, "wb").write(data)
        done = storescu(node_port, "SEND1", [broken])
        check("an image that cannot be decoded: a failure status (0xC000), nothing kept",
              done.returncode != 0 and not in_spool(node.spool)
              and f"Refused object {uid} from 'SEND1' answered 0xc000" in node.printed(),
              f"storescu {done.returncode}; " + node.printed()[-300:])

        cutter = Proxy(node_port, cut_after=12000)
        done = storescu(cutter.port, "SEND1", [path])
        cutter.close()
        time.sleep(1)
        check("an association cut mid-transfer: storescu fails, nothing kept",
              done.returncode != 0 and not in_spool(node.spool), done.stderr[-300:])
        before = sr_count(archive)
        done = storescu(node_port, "SEND1", [path])
        sent[uid] = (path, answer)
        check("the same film sent again afterwards: accepted", done.returncode == 0,
              done.stderr[-300:])
        wait_answered(archive, node, before + 1)

        # Orthanc stopped while reports are due, then started again
        archive.stop()
        batch = [film(k) for k in range(20, 24)]
        used += range(20, 24)
        done = storescu(node_port, "SEND2", [p for p, _, _ in batch])
        waiting = wait_until(lambda: "cannot be reached" in node.printed().lower()
                             or "starting again" in node.printed(), timeout=60)
        time.sleep(3)
        archive.start()
        sent.update({uid: (p, a) for p, uid, a in batch})
        answered = wait_answered(archive, node, before + 5)
        time.sleep(3)
        found = archive.reports()
        wrong = wrong_reports(found, {uid: sent[uid] for _, uid, _ in batch})
        check("Orthanc stopped while 4 reports were due, then started: each film one report",
              done.returncode == 0 and answered and not wrong,
              f"storescu {done.returncode}, node waited {waiting}; " + "; ".join(wrong))

        # four senders at once, 25 films each
        groups = [[film(100 + 25 * s + i) for i in range(25)] for s in range(4)]
        used += range(100, 200)
        results = [None] * 4

        def send(s):
            results[s] = storescu(node_port, SENDERS[s], [p for p, _, _ in groups[s]])
        threads = [threading.Thread(target=send, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for group in groups:
            sent.update({uid: (p, a) for p, uid, a in group})
        answered = wait_answered(archive, node, len(sent))
        found = archive.reports()
        wrong = wrong_reports(found, {uid: sent[uid] for g in groups for _, uid, _ in g})
        check("4 senders at once, 25 films each: every film accepted, one report each",
              all(r.returncode == 0 for r in results) and answered and not wrong,
              f"storescu {[r.returncode for r in results]}; {len(wrong)} wrong: "
              + "; ".join(wrong[:5]))

        # SIGKILL while films wait in the spool; reports slowed by a proxy
        node.stop()
        slow = Proxy(archive.dicom_port, delay=0.3)
        node.start(results=f"dicom://ARCHIVE@127.0.0.1:{slow.port}")
        batch = [film(k) for k in range(300, 330)]
        used += range(300, 330)
        reported_before = node.printed().count(": report ")
        done = storescu(node_port, "SEND3", [p for p, _, _ in batch])
        wait_until(lambda: node.printed().count(": report ") > reported_before, timeout=60)
        node.process.kill()
        node.process.wait()
        waiting = len([n for n in in_spool(node.spool) if n.endswith(".dcm")])
        slow.close()
        node.start()
        sent.update({uid: (p, a) for p, uid, a in batch})
        answered = wait_answered(archive, node, len(sent))
        found = archive.reports()
        wrong = wrong_reports(found, {uid: sent[uid] for _, uid, _ in batch})
        check("SIGKILL with films in the spool, started again: every film storescu was told "
              "was accepted has exactly one report",
              done.returncode == 0 and waiting > 0 and answered and not wrong,
              f"storescu {done.returncode}, {waiting} films in the spool at the kill; "
              + "; ".join(wrong[:5]))

        time.sleep(2)
        found = archive.reports()
        check("every report the node stored is of a film it accepted, none doubled",
              set(found) == set(sent) and all(len(r) == 1 for r in found.values()),
              f"{len(found)} films reported, {len(sent)} accepted")
    finally:
        node.stop()
        archive.stop()

    printed = node.printed()
    found = leaked(printed, used)
    check("no patient value in anything the node printed (debug log at LOG included)",
          not found,
          f"{len(printed)} characters; found {found}")
    check("the spool empty at the end", not in_spool(node.spool), str(in_spool(node.spool)))

finish("dicom-node")

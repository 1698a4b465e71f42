"""cxr-run pacs against a real archive: Orthanc with its DICOMweb plugin,
started here on free loopback ports with a temporary configuration and
storage, HTTP authentication on, and stopped at the end.

    test_pacs.py SOURCE_DIR BUILD_DIR

The project's sample films become DICOM chest radiographs with patient data
(DCMTK's img2dcm), stored into the archive with a CT image (skipped), a
structured report (skipped: not an image) and a film whose JPEG data is
broken (said, and the rest goes on). Then:

- `cxr-run pacs --once`: read back through the archive, one report per
  chest film in the film's study, each read by dsrdump and pydicom, each
  finding the one cxrclassify gives the same file; a second --once stores
  nothing new.
- More films, `cxr-run pacs` following the archive killed with SIGKILL
  after its first report, then restarted: every film has exactly one report
  (a film killed between storing its report and noting it in the state file
  is handled again after the restart, and gives the same report, which the
  archive keeps once).
- A wrong password: a clear message, exit 1, nothing stored, the state file
  untouched. An archive that is not there: the same. An archive that goes
  away while cxr-run follows it: a message, and once it is back the rest of
  the films are answered.
- A model that cannot be loaded: exit 1, and the films wait for the next
  run.
- `--capture`: for each film also a Secondary Capture picture with the
  answer burned in, in the film's study, referring to the film.
- https with a certificate of the test's own CA: refused as not trusted
  without --ca-file, and with a certificate for another name even with it;
  with it, the films are answered.
- No patient value, nor the password, in anything cxr-run printed or in its
  state file.

Skips (exit 77) without Orthanc and its DICOMweb plugin (Debian packages
orthanc, orthanc-dicomweb), DCMTK's tools or pydicom.
"""
import glob
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402
from sr_reading import label as answer_of, probability  # noqa: E402
from orthanc import (Archive, PASSWORD, USER, classify_locally, installed, leaked,  # noqa: E402
                     make_film)  # noqa: E402

source, build = sys.argv[1:3]
if installed():
    skip(installed())
if not shutil.which("img2dcm") or not shutil.which("dsrdump"):
    skip("DCMTK's img2dcm and dsrdump (Debian package dcmtk) are not installed")
try:
    import pydicom
except ImportError:
    skip("pydicom (Debian package python3-pydicom) is not installed")

cxr_run = os.path.join(build, "pipelines", "tools", "cxr-run")
env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"))
for name in ("CXR_PACS_USER", "CXR_PACS_PASSWORD"):
    env.pop(name, None)
films = sorted(glob.glob(os.path.join(source, "pipelines", "sample-films", "*", "*.jpeg")))
printed = []                    # everything cxr-run printed


def pacs(archive, state, *extra, password=PASSWORD, wait=True):
    pw = os.path.join(os.path.dirname(state), "password")
    with open(pw, "w") as f:
        f.write(password + "\n")
    cmd = [cxr_run, "pacs", "--url", archive.url, "--user", USER, "--password-file", pw,
           "--state", state, "--interval", "1", *extra]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    printed.append(done.stdout + done.stderr)
    return done


class TlsFront:
    """https in front of an archive: TLS with certificate, on a free
    loopback port, each connection's bytes passed to the archive's http
    port (Debian's Orthanc 1.10 cannot serve https itself with OpenSSL 3)"""
    def __init__(self, archive, certificate):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate)
        self.backend = archive.port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(conn,), daemon=True).start()

    def relay(self, conn):
        try:
            client = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()        # the client did not trust the certificate
            return
        backend = socket.create_connection(("127.0.0.1", self.backend))

        def pump(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            for sock in (a, b):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(backend, client), daemon=True).start()
        pump(client, backend)

    def close(self):
        self.listener.close()


def make_certificates(folder):
    """a CA of the test's own, and two server certificates it signed (key and
    certificate in one PEM file): one for 127.0.0.1, one for another name"""
    def run(*cmd):
        if subprocess.run(["openssl", *cmd], capture_output=True, cwd=folder).returncode != 0:
            skip("openssl cannot make the test's certificates")
    if not shutil.which("openssl"):
        skip("openssl (Debian package openssl) is not installed")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=gst-cxr test CA")
    made = {}
    for name, san in (("right", "IP:127.0.0.1"), ("wrong", "DNS:elsewhere.example")):
        with open(os.path.join(folder, name + ".ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + san.split(":")[1])
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")
        with open(os.path.join(folder, name + ".pem"), "w") as out:
            for part in (name + ".key", name + ".crt"):
                out.write(open(os.path.join(folder, part)).read())
        made[name] = os.path.join(folder, name + ".pem")
    return os.path.join(folder, "ca.pem"), made


def broken_copy(path, out):
    """the film with its JPEG data overwritten past the first bytes"""
    data = bytearray(open(path, "rb").read())
    start = data.find(b"\xff\xd8\xff")
    data[start + 2:start + 602] = b"\x00" * 600
    open(out, "wb").write(data)
    return out


def check_reports(archive, local, label):
    found = archive.reports()
    for uid, (path, (truth_label, p)) in local.items():
        reports = found.get(uid, [])
        if len(reports) != 1:
            check(f"{label}: {os.path.basename(path)} has exactly one report", False,
                  f"{len(reports)} reports")
            continue
        sr, sr_path = reports[0]
        image = pydicom.dcmread(path)
        said, sr_p = answer_of(sr), probability(sr)
        dump = subprocess.run(["dsrdump", sr_path], capture_output=True, text=True)
        check(f"{label}: {os.path.basename(path)}: one report in its study, read by dsrdump "
              "and pydicom, the finding cxrclassify gives the file",
              sr.StudyInstanceUID == image.StudyInstanceUID and dump.returncode == 0
              and said == truth_label and abs(sr_p - p) < 1e-4
              and str(sr.PatientID) == str(image.PatientID),
              f"{said} {sr_p:.4f} against {truth_label} {p:.4f}")
    return found


with tempfile.TemporaryDirectory() as tmp:
    archive = Archive(tmp)
    archive.start()
    try:
        films_dir = os.path.join(tmp, "films")
        os.mkdir(films_dir)
        local = {}
        for k, film in enumerate(films[:4]):
            path = make_film(films_dir, k, film)
            archive.upload(path)
            local[pydicom.dcmread(path).SOPInstanceUID] = (path, classify_locally(path, env))
        ct = make_film(films_dir, 90, films[0], modality="CT")
        archive.upload(ct)
        broken = broken_copy(make_film(films_dir, 91, films[1]), os.path.join(films_dir, "broken.dcm"))
        archive.upload(broken)
        # film 0's own report, made here: skipped as no image, and the one
        # cxr-run makes of film 0 is the same instance (the same UIDs)
        reports_dir = os.path.join(tmp, "local-reports")
        subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={films_dir}/film0.dcm",
                        "!", "cxrdicomdec", "!", "cxrclassify", "!", "cxrdicomsink",
                        f"location={reports_dir}"], env=env, check=True, capture_output=True)
        for report in glob.glob(os.path.join(reports_dir, "*.dcm")):
            archive.upload(report)
        state = os.path.join(tmp, "state.json")

        # a wrong password first: nothing done, the state file not written
        done = pacs(archive, state, "--once", password="not-" + PASSWORD)
        check("a wrong password: exit 1 and a message that says so",
              done.returncode == 1 and "refused the credentials" in done.stderr, done.stderr[-300:])
        check("a wrong password: no state file, nothing stored",
              not os.path.exists(state) and len(archive.reports()) == 1)
        # no archive there
        os.mkdir(os.path.join(tmp, "absent"))
        absent = Archive(os.path.join(tmp, "absent"))       # never started
        done = pacs(absent, state, "--once")
        check("no archive at the address: exit 1 and a message that says so",
              done.returncode == 1 and "cannot reach the archive" in done.stderr, done.stderr[-300:])

        done = pacs(archive, state, "--once")
        check("--once: exit 0", done.returncode == 0, done.stderr[-500:])
        check("--once: the broken film said, the CT image skipped",
              "4 classified and stored, 2 not chest radiographs (skipped), 0 not answered, "
              "1 could not be read" in done.stderr, done.stderr[-300:])
        found = check_reports(archive, local, "--once")
        check("--once: no report for the CT image or the broken film", len(found) == len(local))
        n_instances = len(archive.get("/instances"))
        done = pacs(archive, state, "--once")
        check("a second --once stores nothing new",
              done.returncode == 0 and "pacs: 0 classified" in done.stderr
              and len(archive.get("/instances")) == n_instances, done.stderr[-300:])

        # SIGKILL after the first report of a new batch, then a restart
        for k, film in enumerate(films[4:8] + films[:2], start=10):
            path = make_film(films_dir, k, film)
            archive.upload(path)
            local[pydicom.dcmread(path).SOPInstanceUID] = (path, classify_locally(path, env))
        follower = pacs(archive, state, wait=False)
        ready, _, _ = select.select([follower.stdout], [], [], 300)
        first = follower.stdout.readline() if ready else ""
        follower.send_signal(signal.SIGKILL)
        follower.wait()
        printed.append(first + follower.stdout.read())
        check("following: the first report comes", "report stored" in first, first)
        done = pacs(archive, state, "--once")
        check("after SIGKILL, --once goes on", done.returncode == 0, done.stderr[-300:])
        check_reports(archive, local, "after SIGKILL")

        # the archive goes away while cxr-run follows it, and comes back
        follower = pacs(archive, state, wait=False)
        time.sleep(2)
        archive.stop()
        time.sleep(3)
        for k, film in enumerate(films[2:4], start=30):
            path = make_film(films_dir, k, film)
            local[pydicom.dcmread(path).SOPInstanceUID] = (path, classify_locally(path, env))
        archive.start()
        for k in (30, 31):
            archive.upload(os.path.join(films_dir, f"film{k}.dcm"))
        deadline = time.time() + 120
        while time.time() < deadline and sum(
                len(v) for v in archive.reports().values()) < len(local):
            time.sleep(1)
        follower.send_signal(signal.SIGTERM)
        out, _ = follower.communicate(timeout=60)
        printed.append(out)
        check("the archive gone: said, and cxr-run keeps following",
              "cannot reach the archive" in out, out[-300:])
        check_reports(archive, local, "after the archive came back")

        # a model that cannot be loaded: the films wait
        captured = {}
        for k, film in enumerate(films[5:7], start=41):
            path = make_film(films_dir, k, film)
            archive.upload(path)
            captured[pydicom.dcmread(path).SOPInstanceUID] = (path, classify_locally(path, env))
        done = pacs(archive, state, "--once", "--model", os.path.join(tmp, "no-such-model"))
        check("a model that cannot be loaded: exit 1, a message naming the model",
              done.returncode == 1 and "no-such-model" in done.stderr,
              f"exit {done.returncode}: {done.stderr[-300:]}")
        done = pacs(archive, state, "--once", "--capture")
        check("--capture: exit 0; the films the model could not answer before answered now",
              done.returncode == 0 and "2 classified and stored" in done.stderr
              and done.stdout.count("report and picture stored") == 2,
              done.stdout[-400:] + done.stderr[-300:])
        local.update(captured)
        check_reports(archive, captured, "--capture")
        pictures = archive.reports("OT")
        for uid, (path, (label, p)) in captured.items():
            found = pictures.get(uid, [])
            image = pydicom.dcmread(path)
            ok = len(found) == 1
            if ok:
                sc, _ = found[0]
                pixels = sc.pixel_array
                ok = (sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
                      and sc.StudyInstanceUID == image.StudyInstanceUID
                      and sc.SeriesInstanceUID != image.SeriesInstanceUID
                      and str(sc.PatientID) == str(image.PatientID)
                      and sc.PhotometricInterpretation == "RGB" and sc.BurnedInAnnotation == "YES"
                      and (sc.Rows, sc.Columns) == (image.Rows, image.Columns)
                      and "not for diagnostic use" in sc.ImageComments.lower()
                      # a picture of a lossy film is lossy too
                      and sc.LossyImageCompression == image.get("LossyImageCompression", "00")
                      # the label and the heatmap are in colour on a grey film
                      and (pixels[..., 0] != pixels[..., 2]).mean() > 0.01)
            check(f"--capture: {os.path.basename(path)} has one picture in its study, RGB, "
                  "the answer burned in, referring to the film", ok, f"{len(found)} pictures")

        # the reports into the archive's DICOM port by C-STORE, not STOW-RS
        by_dimse = {}
        for k, film in enumerate(films[2:4], start=60):
            path = make_film(films_dir, k, film)
            archive.upload(path)
            by_dimse[pydicom.dcmread(path).SOPInstanceUID] = (path, classify_locally(path, env))
        done = pacs(archive, state, "--once", "--results",
                    f"dicom://ARCHIVE@127.0.0.1:{archive.dicom_port}", "--ae-title", "CXRNODE")
        check("--results dicom://...: exit 0, the films answered",
              done.returncode == 0 and "2 classified and stored" in done.stderr,
              done.stderr[-300:])
        local.update(by_dimse)
        check_reports(archive, by_dimse, "--results by C-STORE")

        # https, checked against the test's own CA, in front of an archive
        # of its own
        tls = os.path.join(tmp, "tls")
        os.makedirs(os.path.join(tls, "db"))
        ca, certificates = make_certificates(tls)
        behind = Archive(os.path.join(tls, "db"))
        behind.start()
        try:
            behind.upload(make_film(films_dir, 50, films[7]))
            for name in ("wrong", "right"):
                front = TlsFront(behind, certificates[name])
                tls_state = os.path.join(tls, name + "-state.json")
                done = pacs(front, tls_state, "--once")
                check(f"https ({name} name): without the CA, refused as not trusted",
                      done.returncode == 1 and "not trusted" in done.stderr
                      and ("CA file" in done.stderr or name == "wrong")
                      and len(behind.reports()) == 0, done.stderr[-300:])
                done = pacs(front, tls_state, "--once", "--ca-file", ca)
                if name == "wrong":
                    check("https: a certificate for another name, refused even with the CA",
                          done.returncode == 1 and "for another name" in done.stderr
                          and len(behind.reports()) == 0, done.stderr[-300:])
                else:
                    check("https: with the CA, the film answered",
                          done.returncode == 0 and "1 classified and stored" in done.stderr
                          and len(behind.reports()) == 1, done.stderr[-300:])
                front.close()
        finally:
            behind.stop()

        with open(state) as f:
            state_text = f.read()
        everything = "".join(printed) + state_text
        found = leaked(everything, list(range(4)) + list(range(10, 16))
                       + [30, 31, 41, 42, 50, 90, 91])
        check("no patient value in what cxr-run printed or in its state file", not found,
              f"{len(everything)} characters; found {found}")
        check("the password in nothing cxr-run printed", PASSWORD not in everything)
    finally:
        archive.stop()

finish("pacs")

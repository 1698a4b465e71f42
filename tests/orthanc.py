"""What the tests against a real archive share: Debian's Orthanc started on
free loopback ports with a temporary configuration and storage (DICOMweb
and DIMSE, HTTP authentication on), and the project's sample films made
into DICOM chest radiographs with patient data (DCMTK's img2dcm)."""
import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

from checking import skip
from sr_reading import film_of

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
DICOMWEB = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
USER, PASSWORD = "cxr-robot", "Pw-" + base64.b32encode(os.urandom(10)).decode()


def installed():
    """why Orthanc cannot be run here, or None"""
    if not os.path.exists(ORTHANC) or not os.path.exists(DICOMWEB):
        return "Orthanc and its DICOMweb plugin (Debian orthanc, orthanc-dicomweb) are not installed"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Archive:
    """An Orthanc in folder, its AE title ARCHIVE; modalities are the DICOM
    nodes it knows, {name: [AET, host, port]}"""
    def __init__(self, folder, modalities=None):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dicom_port = free_port()
        config = {"Name": "gst-cxr-test", "StorageDirectory": os.path.join(folder, "db"),
                  "IndexDirectory": os.path.join(folder, "db"),
                  "HttpPort": self.port, "DicomPort": self.dicom_port,
                  "DicomAet": "ARCHIVE", "DicomServerEnabled": True,
                  "DicomModalities": modalities or {},
                  "RemoteAccessAllowed": False,
                  "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
                  "Plugins": [DICOMWEB],
                  "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
        self.config = os.path.join(folder, "orthanc.json")
        with open(self.config, "w") as f:
            json.dump(config, f)
        self.process = None

    def start(self):
        # the archive is not under test: the sanitizers' preloaded runtime
        # (tests/sanitize.sh) stays out of it
        plain = {k: v for k, v in os.environ.items()
                 if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
        self.process = subprocess.Popen([ORTHANC, self.config], env=plain,
                                        stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.folder, "orthanc.log"), "a"))
        for _ in range(300):
            try:
                self.get("/system")
                return
            except OSError:
                time.sleep(0.1)
        skip("Orthanc did not start (see its log)")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(30)
            self.process = None

    def call(self, path, data=None, accept=None, method=None, timeout=30):
        request = urllib.request.Request(self.url + path, data=data, method=method)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", "Basic " + token)
        if accept:
            request.add_header("Accept", accept)
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.read()

    def get(self, path):
        return json.loads(self.call(path))

    def post(self, path, body, timeout=30):
        return json.loads(self.call(path, json.dumps(body).encode(), timeout=timeout))

    def upload(self, path):
        with open(path, "rb") as f:
            return json.loads(self.call("/instances", f.read()))["ID"]

    def reports(self, modality="SR"):
        """{referenced SOP Instance UID: [(dataset, path)]} of every report
        (SR), or every picture (OT)"""
        import pydicom
        found = {}
        for instance in self.get("/instances"):
            tags = self.get(f"/instances/{instance}/simplified-tags")
            if tags.get("Modality") != modality:
                continue
            path = os.path.join(self.folder, instance + ".dcm")
            with open(path, "wb") as f:
                f.write(self.call(f"/instances/{instance}/file"))
            ds = pydicom.dcmread(path)
            ref = (film_of(ds) if modality == "SR"
                   else ds.SourceImageSequence[0]).ReferencedSOPInstanceUID
            found.setdefault(ref, []).append((ds, path))
        return found


def patient(k):
    """film k's patient data, a made-up one each"""
    return {"PatientName": f"Wisniewska^Halina{k}", "PatientID": f"MRN55{k:02d}83",
            "PatientBirthDate": f"1979{k % 12 + 1:02d}14", "AccessionNumber": f"AC7{k:02d}31"}


def make_film(folder, k, film, modality="CR"):
    """film (a JPEG) as folder/filmK.dcm, a chest radiograph of patient k"""
    path = os.path.join(folder, f"film{k}.dcm")
    cmd = ["img2dcm", film, path, "-k", f"Modality={modality}", "-k", "BodyPartExamined=CHEST"]
    for key, value in patient(k).items():
        cmd += ["-k", f"{key}={value}"]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        skip("img2dcm cannot convert the sample films")
    return path


def classify_locally(path, env):
    """what cxrclassify says of a DICOM file: (label, P(PNEUMONIA))"""
    out = path + ".jsonl"
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "cxrdicomdec",
                    "!", "cxrclassify", "!", "cxrmetasink", f"location={out}"],
                   env=env, check=True, capture_output=True)
    with open(out) as f:
        line = json.loads(f.readline())
    return line["label"], line["probabilities"][1]


def leaked(printed, ks):
    """the patient values of films ks found in the text printed"""
    return [v for k in ks for v in patient(k).values()
            if v in printed or v.replace("^", " ") in printed]

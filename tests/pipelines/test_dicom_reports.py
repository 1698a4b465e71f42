"""cxrdicomsink: a DICOM Structured Report for each classified DICOM film.

    test_dicom_reports.py SOURCE_DIR BUILD_DIR

Four of the project's sample films (two of each class) become DICOM chest
radiographs with patient data (DCMTK's img2dcm), and one more a CT image,
which cxrclassify refuses. Each file goes through

    filesrc ! cxrdicomdec ! cxrclassify ! tee ! cxrdicomsink, cxrmetasink

and each report is checked: DCMTK's dsrdump and pydicom read it; it is a
Comprehensive 3D SR whose root is TID 1500 (IHE AI Results), in the film's
study, in a series of its own, with the film's patient and study modules;
its finding (present or absent), certainty (P(PNEUMONIA)), threshold and
model id are what cxrmetasink says of the same film; the algorithm is
named (TID 4019) and is contributing equipment with a Device UID that
changes with the threshold; it refers to the film and says it is not for
diagnostic use; only standard codes. Pixelmed's SR validator finds no error
and no content item outside the template, dicom3tools' dciodvfy no error
(on the report, and on the Secondary Capture of capture=true).
The refused film gets no report.
Nothing of the patients' (names, ids, birth dates, accession numbers)
appears in the pipelines' output with every cxr debug category at its
most verbose, in the JSON lines or in the reports' file names. Skips
(exit 77) without DCMTK's tools or pydicom.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip, skip_part  # noqa: E402
from sr_reading import film_of, label, named, probability, threshold  # noqa: E402

source, build = sys.argv[1:3]
if not shutil.which("img2dcm") or not shutil.which("dsrdump"):
    skip("DCMTK's img2dcm and dsrdump (Debian package dcmtk) are not installed")
try:
    import pydicom
except ImportError:
    skip("pydicom (Debian package python3-pydicom) is not installed")

PIXELMED = "/usr/share/java/pixelmed.jar"
validators = (os.path.exists(PIXELMED) and shutil.which("java")
              and shutil.which("dciodvfy"))
if not validators:
    skip_part("the validators", "Pixelmed (libpixelmed-java), java and "
              "dciodvfy (dicom3tools) are not all installed")
env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "plugin"),
           GST_DEBUG="cxr*:9", GST_DEBUG_NO_COLOR="1")
films = sorted(glob.glob(os.path.join(source, "pipelines", "sample-films", "*", "*.jpeg")))
films = [f for f in films if "NORMAL" in f][:2] + [f for f in films if "PNEUMONIA" in f][:2]
# the code systems a report may use: SNOMED CT, DICOM's, UCUM, the
# language's and UMLS (TID 1500's own "Qualitative Evaluations")
STANDARD = {"SCT", "DCM", "UCUM", "RFC5646", "UMLS"}


def codes(ds):
    """every code sequence item's scheme in a data set"""
    for elem in ds.iterall():
        if elem.VR == "SQ":
            for item in elem.value:
                if "CodingSchemeDesignator" in item:
                    yield item.CodingSchemeDesignator


def pixelmed(path):
    """Pixelmed's SR validator's complaints: errors, items not in the template"""
    done = subprocess.run(["java", "-Djdk.xml.xpathExprGrpLimit=0",
                           "-Djdk.xml.xpathExprOpLimit=0",
                           "-Djdk.xml.xpathTotalOpLimit=0", "-cp", PIXELMED,
                           "com.pixelmed.validate.DicomSRValidator", path],
                          capture_output=True, text=True)
    out = done.stdout + done.stderr
    return [line for line in out.splitlines()
            if line.startswith("Error") or "not in template" in line] or \
        ([] if "Root Template TID_1500" in out else ["TID 1500 not found"])


def dciodvfy(path):
    """dicom3tools' errors about an object"""
    done = subprocess.run(["dciodvfy", path], capture_output=True, text=True)
    return [line for line in (done.stdout + done.stderr).splitlines()
            if line.startswith("Error")]


def patient(k):
    # values no log should hold: each distinctive, so a match means a leak
    return {"PatientName": f"Kowalczyk^Zofia{k}", "PatientID": f"PID90{k}731",
            "PatientBirthDate": f"1987030{k + 1}", "AccessionNumber": f"ACC44{k}19",
            "PatientSex": "F", "StudyID": f"S{k}77"}


def write_two_frames(path, jpegs, keys):
    """a CR chest film of two 8-bit frames (the two JPEGs, 256x256)"""
    import numpy as np
    from PIL import Image
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    frames = np.stack([np.asarray(Image.open(j).convert("L").resize((256, 256))) for j in jpegs])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.BodyPartExamined = "CR", "CHEST"
    for key, value in keys.items():
        setattr(ds, key, value)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.NumberOfFrames, ds.Rows, ds.Columns = len(frames), 256, 256
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = frames.tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def run(cmd):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(" ".join(cmd), "failed:\n", done.stdout[-2000:], done.stderr[-2000:])
    return done


with tempfile.TemporaryDirectory() as tmp:
    cases = []
    for k, film in enumerate(films + films[:1]):
        ct = k == len(films)
        keys = dict(patient(k), Modality="CT" if ct else "CR",
                    BodyPartExamined="CHEST")
        if k == 1:
            # a name beyond ASCII, in the character set the film declares
            keys.update(SpecificCharacterSet="ISO_IR 192", PatientName="Kowalczyk^Zofia1^Łucja")
        path = os.path.join(tmp, f"film{k}.dcm")
        cmd = ["img2dcm", film, path]
        for key, value in keys.items():
            cmd += ["-k", f"{key}={value}"]
        if run(cmd).returncode != 0:
            skip("img2dcm cannot convert the sample films")
        cases.append((path, keys, ct))

    reports = os.path.join(tmp, "reports")
    logs = ""
    results = {}
    for k, (path, keys, ct) in enumerate(cases):
        jsonl = os.path.join(tmp, f"film{k}.jsonl")
        done = run(["gst-launch-1.0", "-m", "filesrc", f"location={path}", "!",
                    "cxrdicomdec", "!", "cxrclassify", "!", "tee", "name=t",
                    "t.", "!", "queue", "!", "cxrdicomsink", f"location={reports}",
                    "t.", "!", "queue", "!", "cxrmetasink", f"location={jsonl}"])
        check(f"film {k}: the pipeline runs", done.returncode == 0)
        logs += done.stdout + done.stderr
        with open(jsonl) as f:
            line = json.loads(f.readline())
        results[pydicom.dcmread(path).SOPInstanceUID] = (line, keys, path, ct)
        logs += json.dumps(line)

    written = sorted(glob.glob(os.path.join(reports, "*.dcm")))
    check("one report for each film answered, none for the CT image",
          len(written) == len(films), f"{len(written)} reports")
    referred = set()
    devices = set()
    for report in written:
        name = os.path.basename(report)
        logs += name
        done = subprocess.run(["dsrdump", report], capture_output=True, text=True)
        check(f"{name}: dsrdump reads it", done.returncode == 0
              and "Comprehensive 3D SR" in done.stdout, done.stderr[-300:])
        sr = pydicom.dcmread(report)
        ref = film_of(sr)
        if ref is None or ref.ReferencedSOPInstanceUID not in results:
            check(f"{name}: refers to one of the films", False)
            continue
        line, keys, path, ct = results[ref.ReferencedSOPInstanceUID]
        referred.add(ref.ReferencedSOPInstanceUID)
        image = pydicom.dcmread(path)
        check(f"{name}: an SR document in the film's study, in a new series",
              sr.Modality == "SR" and sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"
              and sr.StudyInstanceUID == image.StudyInstanceUID
              and sr.SeriesInstanceUID != image.SeriesInstanceUID
              and sr.SOPInstanceUID + ".dcm" == name)
        check(f"{name}: the film's patient and study modules, in its character set",
              all(str(sr.get(key)) == value for key, value in keys.items()
                  if key not in ("Modality", "BodyPartExamined")))
        uids = [sr.SOPInstanceUID, sr.SeriesInstanceUID]
        check(f"{name}: its UIDs are 2.25 UUIDs (version 8) of at most 64 characters",
              all(len(u) <= 64 and re.fullmatch(r"2\.25\.[1-9][0-9]*", u)
                  and (int(u[5:]) >> 76) & 0xF == 8 for u in uids), str(uids))
        schemes = set(codes(sr))
        check(f"{name}: standard codes only", schemes <= STANDARD, str(schemes))
        check(f"{name}: TID 1500 at its root, an imaging measurement report",
              sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
              and sr.ConceptNameCodeSequence[0].CodeValue == "126000")
        check(f"{name}: readable by its owner alone (it holds the patient's data)",
              os.stat(report).st_mode & 0o077 == 0, oct(os.stat(report).st_mode))
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
        check(f"{name}: the film is the evidence",
              evidence.StudyInstanceUID == image.StudyInstanceUID
              and evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
              .ReferencedSOPInstanceUID == image.SOPInstanceUID)
        check(f"{name}: the finding is cxrclassify's", label(sr) == line["label"],
              f"{label(sr)} against {line['label']}")
        p, t = probability(sr), threshold(sr)
        check(f"{name}: P(PNEUMONIA) and threshold are cxrclassify's (in %)",
              abs(p - line["probabilities"][1]) < 1e-6
              and abs(t - line["threshold"]) < 1e-6, f"{p} {t}")
        parameters = [i.TextValue for i in named(sr, "Algorithm Parameters")]
        check(f"{name}: the model and the algorithm are named (TID 4019)",
              f"model={line['model']}" in parameters
              and "gst-cxr" in named(sr, "Algorithm Name")[0].TextValue
              and named(sr, "Algorithm Version")[0].TextValue)
        equipment = sr.ContributingEquipmentSequence[0]
        check(f"{name}: the algorithm is processing equipment with a Device UID",
              equipment.PurposeOfReferenceCodeSequence[0].CodeValue == "109102"
              and re.fullmatch(r"2\.25\.[1-9][0-9]*", equipment.DeviceUID)
              and named(sr, "Device Observer UID")[0].UID == equipment.DeviceUID)
        devices.add((line["model"], line["threshold"], equipment.DeviceUID))
        check(f"{name}: not for diagnostic use",
              "not for diagnostic use" in sr.CompletionFlagDescription.lower())
        if validators:
            complaints = pixelmed(report)
            check(f"{name}: Pixelmed's SR validator finds no error and no "
                  "item outside the template", not complaints,
                  "; ".join(complaints[:3]))
            complaints = dciodvfy(report)
            check(f"{name}: dciodvfy finds no error", not complaints,
                  "; ".join(complaints[:3]))
    check("every answered film has its report", len(referred) == len(films))
    check("one Device UID for one model and threshold",
          len({d[2] for d in devices}) == len({d[:2] for d in devices}) == 1,
          str(devices))
    check("the CT image got none", not any(results[u][3] for u in referred))
    leaked = [v for _, keys, _, _ in results.values() for k, v in keys.items()
              if k in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber")
              and (v in logs or v.replace("^", " ") in logs)]
    check("no patient value in the output, the JSON lines or the file names",
          not leaked, f"{len(logs)} characters looked at; found {leaked}")

    # the same film read by cxrdatasetsrc from a folder: the same report
    folder = os.path.join(tmp, "folder", "NORMAL")
    os.makedirs(folder)
    shutil.copy(cases[0][0], folder)
    from_folder = os.path.join(tmp, "from-folder")
    done = run(["gst-launch-1.0", "cxrdatasetsrc", f"location={os.path.dirname(folder)}", "!",
                "cxrclassify", "!", "cxrdicomsink", f"location={from_folder}"])
    names = lambda d: sorted(os.listdir(d)) if os.path.isdir(d) else []
    first_film_report = [os.path.basename(r) for r in written
                         if film_of(pydicom.dcmread(r)).ReferencedSOPInstanceUID
                         == pydicom.dcmread(cases[0][0]).SOPInstanceUID]
    check("a DICOM film read by cxrdatasetsrc gets the same report as through cxrdicomdec",
          done.returncode == 0 and names(from_folder) == first_film_report,
          f"{names(from_folder)} against {first_film_report}")

    # a film of two frames: a report for each, naming its frame
    two = os.path.join(tmp, "two-frames.dcm")
    write_two_frames(two, films[:2], patient(7))
    frames_dir = os.path.join(tmp, "frames")
    done = run(["gst-launch-1.0", "filesrc", f"location={two}", "!", "cxrdicomdec", "!",
                "cxrclassify", "!", "cxrdicomsink", f"location={frames_dir}"])
    refs = sorted(int(film_of(pydicom.dcmread(os.path.join(frames_dir, n)))
                      .ReferencedFrameNumber) for n in names(frames_dir))
    check("a film of two frames: one report for each, naming its frame",
          done.returncode == 0 and refs == [1, 2], str(refs))

    # another threshold is another decision rule: another device; and the
    # picture of capture=true passes dciodvfy too
    other = os.path.join(tmp, "other-threshold")
    done = run(["gst-launch-1.0", "filesrc", f"location={cases[0][0]}", "!",
                "cxrdicomdec", "!", "cxrclassify", "threshold=0.3", "heatmap=true",
                "!", "videoconvert", "!", "cxroverlay", "!", "videoconvert", "!",
                "cxrdicomsink", f"location={other}", "capture=true"])
    made = [pydicom.dcmread(os.path.join(other, n)) for n in names(other)]
    srs = [d for d in made if d.Modality == "SR"]
    pictures = [n for n, d in zip(names(other), made) if d.Modality == "OT"]
    check("another threshold: a report with another Device UID, and a picture",
          done.returncode == 0 and len(srs) == 1 and len(pictures) == 1
          and srs[0].ContributingEquipmentSequence[0].DeviceUID
          not in {d[2] for d in devices}, f"{len(srs)} reports, {pictures}")
    if validators and pictures:
        complaints = dciodvfy(os.path.join(other, pictures[0]))
        check("the Secondary Capture: dciodvfy finds no error", not complaints,
              "; ".join(complaints[:3]))

    # an archive that takes the connection and never answers: interrupted,
    # the pipeline stops at once, not when the request times out
    import signal
    import socket
    import threading
    import time
    listener = socket.create_server(("127.0.0.1", 0))
    connected = threading.Event()

    def hold():
        conn, _ = listener.accept()
        connected.set()
        time.sleep(30)
        conn.close()
    threading.Thread(target=hold, daemon=True).start()
    port = listener.getsockname()[1]
    launch = subprocess.Popen(["gst-launch-1.0", "filesrc", f"location={cases[0][0]}", "!",
                               "cxrdicomdec", "!", "cxrclassify", "!", "cxrdicomsink",
                               f"url=http://127.0.0.1:{port}/dicom-web"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    waited = connected.wait(60)
    start = time.monotonic()
    launch.send_signal(signal.SIGINT)
    try:
        launch.communicate(timeout=20)
        took = time.monotonic() - start
    except subprocess.TimeoutExpired:
        launch.kill()
        launch.communicate()
        took = None
    listener.close()
    check("an archive that never answers: an interrupted cxrdicomsink stops at once",
          waited and took is not None and took < 15, f"took {took} s")

    # an archive's address with credentials in it, and nowhere to write:
    # refused before anything is sent, the password not repeated
    film = cases[0][0]
    for where, says in ((["url=http://robot:Sekr1t-77@127.0.0.1:9/dicom-web"],
                         "holds credentials"), ([], "Nowhere to write to")):
        done = run(["gst-launch-1.0", "filesrc", f"location={film}", "!", "cxrdicomdec", "!",
                    "cxrclassify", "!", "cxrdicomsink", *where])
        check(f"cxrdicomsink {' '.join(where) or 'without location or url'}: an error "
              "that says what is wrong", done.returncode != 0
              and says in done.stdout + done.stderr and "Sekr1t-77" not in done.stdout + done.stderr,
              (done.stdout + done.stderr)[-300:])

finish("dicom-reports")

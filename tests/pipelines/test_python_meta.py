"""The metas as Python sees them (GObject-Introspection, GstCxr-1.0) equal
cxrmetasink's JSON for the same frames: a pad probe on cxrmetasink's sink
pad reads every buffer that the sink writes a line of. Over the sample
films and a blank film (no diagnosis), with heatmaps, and again with
interval=3 (stale results). The label meta shows no patient. Then the
example application, pipelines/read-results.py, prints one line a film and
saves each heatmap as a PNG, and its C twin (pipelines/read-results.c)
prints the same lines.

    /usr/bin/python3 test_python_meta.py SOURCE_ROOT BUILD_ROOT C_EXAMPLE

with GST_PLUGIN_PATH, GI_TYPELIB_PATH and LD_LIBRARY_PATH on the build's
plugin/ folder (meson test sets them)."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402

source_root, build_root, c_example = sys.argv[1:4]
try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstCxr", "1.0")
    from gi.repository import Gst, GstCxr
except (ImportError, ValueError) as e:
    skip(f"no GstCxr for Python (python3-gi and the plugin's typelib): {e}")
try:
    from PIL import Image
except ImportError as e:
    skip(f"no Pillow (python3-pil): {e}")

Gst.init(None)
sample_films = os.path.join(source_root, "pipelines", "sample-films")


def python_view(buf):
    """What a Python application reads off buf, in cxrmetasink's terms."""
    result = GstCxr.buffer_get_cxr_classification_meta(buf)
    label = GstCxr.buffer_get_cxr_label_meta(buf)
    heatmap = GstCxr.buffer_get_cxr_heatmap_meta(buf)
    if result is None:
        return None
    n = result.get_n_classes()
    view = {
        "file": label.get_source() if label else None,
        "classes": [result.get_class_name(i) for i in range(n)],
        "probabilities": [result.get_probability(i) for i in range(n)],
        "label": result.get_label(),
        "threshold": result.get_threshold(),
        "stale": result.is_stale(),
        "truth": label.get_class_name() if label else None,
        "model": result.get_model_id(),
        "abstained": result.is_abstained(),
        "reason": GstCxr.cxr_abstain_reason_name(result.get_abstain_reason()),
        "ood_score": result.get_ood_score(),
    }
    if heatmap:
        width, height = heatmap.get_size()
        view["heatmap"] = {"width": width, "height": height,
                           "values": list(heatmap.get_values())}
    if label:
        view["patient hidden"] = not any("patient" in name or "dicom_header" in name
                                         for name in dir(label))
    return view


def same(a, b):
    """JSON's value and Python's are the same number (NaN is JSON's null)."""
    if isinstance(b, float):
        return (a is None and math.isnan(b)) or a == b
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(
            same(a[k], b[k]) for k in b)
    return a == b


def compare(what, folder, classify_options):
    out = os.path.join(tmp, what + ".jsonl")
    pipeline = Gst.parse_launch(
        f"cxrdatasetsrc name=films ! cxrclassify {classify_options}"
        " ! cxrmetasink name=sink")
    pipeline.get_by_name("films").set_property("location", folder)
    pipeline.get_by_name("sink").set_property("location", out)
    views = []

    def probe(pad, info):
        views.append(python_view(info.get_buffer()))
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, probe)
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    check(f"{what}: the pipeline ends at EOS",
          message is not None and message.type == Gst.MessageType.EOS,
          message.parse_error()[0].message if message and
          message.type == Gst.MessageType.ERROR else "")
    with open(out) as f:
        lines = [json.loads(line) for line in f]
    check(f"{what}: one view a JSON line", len(views) == len(lines) > 0,
          f"{len(views)} views, {len(lines)} lines")
    for view, line in zip(views, lines):
        name = line["file"]
        check(f"{what}: {name}: the patient is not readable",
              view.pop("patient hidden"))
        expected = {k: line[k] for k in view}
        differing = [k for k in view if not same(expected[k], view[k])]
        check(f"{what}: {name}: Python's view equals the JSON line",
              not differing and view.keys() == expected.keys(),
              "; ".join(f"{k}: {view[k]!r} against {expected[k]!r}"
                        for k in differing))
    return views


tmp = tempfile.mkdtemp(prefix="cxr-python-meta-")
try:
    films = os.path.join(tmp, "films")
    shutil.copytree(sample_films, films, ignore=shutil.ignore_patterns("*.md"))
    Image.new("L", (300, 300), 128).save(os.path.join(films, "NORMAL", "blank.png"))

    views = compare("heatmaps", films, "heatmap=true")
    check("heatmaps: a heatmap on every film answered, none on the blank",
          all(("heatmap" in v) != v["abstained"] for v in views))
    check("heatmaps: the blank film has no diagnosis",
          [v["reason"] for v in views if v["abstained"]] == ["blank"])
    views = compare("interval=3", films, "interval=3")
    check("interval=3: stale results among them",
          sum(v["stale"] for v in views) == len(views) - (len(views) + 2) // 3,
          f"{sum(v['stale'] for v in views)} stale of {len(views)}")

    # the example application
    heatmaps = os.path.join(tmp, "heatmaps")
    run = subprocess.run(
        ["/usr/bin/python3", os.path.join(source_root, "pipelines", "read-results.py"),
         sample_films, "--heatmaps", heatmaps],
        capture_output=True, text=True, timeout=120)
    lines = run.stdout.splitlines()
    check("read-results.py ends well", run.returncode == 0, run.stderr[-500:])
    films_read = sorted(os.path.relpath(os.path.join(d, f), sample_films)
                        for d, _, fs in os.walk(sample_films)
                        for f in fs if f.endswith(".jpeg"))
    named = len(lines) == len(films_read) and all(
        line.startswith(film + ": ") and line.endswith("truly " + film.split(os.sep)[0])
        for line, film in zip(lines, films_read))
    check("read-results.py: one line a film, naming it and its true class",
          named, "" if named else run.stdout[-500:])
    c_run = subprocess.run([c_example, sample_films], capture_output=True,
                           text=True, timeout=120)
    check("read-results.c prints the lines read-results.py prints",
          c_run.returncode == 0 and c_run.stdout == run.stdout,
          "" if c_run.stdout == run.stdout else c_run.stdout[-300:] + c_run.stderr[-300:])
    sizes = []
    for film in films_read:
        png = os.path.join(heatmaps, film.replace(os.sep, "_") + ".png")
        with Image.open(png) as im:
            sizes.append((im.mode, im.size))
    check("read-results.py: a grey PNG heatmap a film, 16 pixels a cell",
          sizes == [("L", (7 * 16, 7 * 16))] * len(films_read), str(sizes[:2]))
finally:
    shutil.rmtree(tmp)
finish("python-meta")

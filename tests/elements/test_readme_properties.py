#!/usr/bin/python3
"""The README's property tables are true to the code.

For each element of plugin "cxr" (as the registry lists them), the section
headed "### ELEMENT" of the README holds a table `| property | default |
meaning |`. Every property the element itself installs (a GParamSpec whose
owner type is the element's own class, not GstObject, GstElement,
GstBaseSrc, GstBaseSink, GstBaseTransform, GstVideoDecoder...) has a row,
and the row's default is what gst-inspect-1.0 shows: the value a fresh
element reads, which for a writable property must also be its GParamSpec's
default. Booleans compare as true/false, numbers as numbers, strings as
they are (`""`: empty), enums by nick. A default written as a description
("—", "read-only", "sorted folder names") is accepted only where the
DESCRIPTIONS table below allows it for that element and property, and that
entry checks something about the code's default. No row may name a
property the element does not have, nor a property twice.

    test_readme_properties.py README.md

Run it with /usr/bin/python3 (python3-gi, gir1.2-gstreamer-1.0), with
GST_PLUGIN_PATH on the plugin just built; without gi it is skipped (77).
"""
import math
import os
import re
import sys

# the shared helpers are in tests/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from checking import check, finish, skip  # noqa: E402


def ok(what, good, detail=""):
    """check(), answering whether it passed."""
    check(what, bool(good), detail)
    return bool(good)

try:
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GObject, Gst
except (ImportError, ValueError) as e:
    skip(f"no GStreamer for Python (python3-gi, gir1.2-gstreamer-1.0): {e}")

PLUGIN = "cxr"


def is_none(v, pspec):
    return v is None


def read_only(v, pspec):
    return not pspec.flags & GObject.ParamFlags.WRITABLE


def kermany_patients(v, pspec):
    """The default pattern names the patient of the Kermany data set's
    files (normal IM-, NORMAL2-IM- and the person..._bacteria/virus_
    names), and nothing of a name that is not one of them."""
    if not v:
        return False
    rx = re.compile(v)

    def patient(name):
        m = rx.search(name)
        return m and (m.group(1) if rx.groups else m.group(0))
    return (patient("IM-0117-0001.jpeg") == "IM-0117"
            and patient("NORMAL2-IM-1427-0001.jpeg") == "NORMAL2-IM-1427"
            and patient("person1_virus_6.jpeg") == "person1"
            and patient("person1004_bacteria_2935.jpeg") == "person1004"
            and not patient("scan_0001.png"))


def equals(n):
    return lambda v, pspec: v == n


# The README's defaults that are descriptions, not values: (element,
# property) -> (the README's words, what they claim of the code's default).
# Each claim is checked; an entry the README no longer uses is an error.
DESCRIPTIONS = {
    # a required setting: unset until set
    ("cxrdatasetsrc", "location"): ("—", is_none),
    # unset: the class folders' (or manifest labels') names, sorted
    ("cxrdatasetsrc", "classes"): ("sorted folder names", is_none),
    # the pattern itself is too long for the table
    ("cxrdatasetsrc", "patient-pattern"): ("the Kermany names",
                                           kermany_patients),
    # unset: every file, or this process's share under mpirun
    ("cxrdatasetsrc", "shard"): ("all", is_none),
    ("cxrdatasetsrc", "n-files"): ("read-only", read_only),
    ("cxrdatasetsrc", "n-skipped"): ("read-only", read_only),
    # unset: default_model_path() in gstcxrclassify.c
    ("cxrclassify", "model"): (
        "`$CXR_MODEL_PATH`, else the installed default model", is_none),
    # negative: the model file's own threshold
    ("cxrclassify", "threshold"): ("-1 (the model's)", equals(-1)),
    ("cxrclassify", "ood-threshold"): ("-1 (the model's)", equals(-1)),
    # 0: as many as oneDNN's OpenMP gives (all cores)
    ("cxrclassify", "threads"): ("0 (all cores)", equals(0)),
    ("cxrclassify", "model-id"): ("read-only", read_only),
    ("cxrclassify", "implementation"): ("read-only", read_only),
    # unset: JSON lines to stdout, no summary file, no report, no pictures
    ("cxrmetasink", "location"): ("stdout", is_none),
    ("cxrmetasink", "summary-location"): ("none", is_none),
    ("cxrmetasink", "report-location"): ("none", is_none),
    ("cxrmetasink", "heatmap-location"): ("none", is_none),
    ("cxrmetasink", "count"): ("read-only", read_only),
    # unset: any caller; the per-port folder in the user's state folder
    ("cxrdicomsrc", "allowed-callers"): ("any", is_none),
    ("cxrdicomsrc", "spool-location"): (
        "`gst-cxr/dicomsrc/PORT` in `$XDG_STATE_HOME` (`~/.local/state`)",
        is_none),
    # unset: a new model of architecture and classes
    ("cxrtrain", "model"): ("none (a new model)", is_none),
    # required: the run says to set it
    ("cxrtrain", "output"): ("—", is_none),
    # unset: frames without a label meta are skipped
    ("cxrtrain", "label"): ("none", is_none),
    **{("cxrtrain", p): ("read-only", read_only) for p in (
        "epoch", "step", "loss", "accuracy", "val-auc", "val-accuracy",
        "images-per-second", "frames-cached", "frames-skipped")},
    # one of location and url is required
    ("cxrdicomsink", "location"): ("—", is_none),
    ("cxrdicomsink", "url"): ("—", is_none),
    # unset: the environment's (plugin/io/dicomweb.c)
    ("cxrdicomsink", "user"): ("`$CXR_PACS_USER`", is_none),
    ("cxrdicomsink", "password-file"): ("`$CXR_PACS_PASSWORD`", is_none),
    # unset: GLib's default TLS database
    ("cxrdicomsink", "ca-file"): ("the system's certificates", is_none),
}

HEADER = re.compile(r"^\|\s*property\s*\|\s*default\s*\|\s*meaning\s*\|\s*$")


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def readme_tables(path):
    """{section heading's text: [(line number, names, default cell)]} of
    every property table, and the tables under no heading."""
    tables, orphans = {}, []
    heading, in_table = None, False
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fence = False
    for n, line in enumerate(lines, 1):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        m = re.match(r"^(#+)\s+(.*?)\s*$", line)
        if m:
            heading, in_table = m.group(2).strip("`"), False
            continue
        if HEADER.match(line):
            in_table = True
            if heading is None:
                orphans.append(n)
            tables.setdefault(heading, [])
            continue
        if in_table and line.startswith("|"):
            c = cells(line)
            if set("".join(c)) <= set("-: "):
                continue        # the separator row
            names = re.findall(r"`([^`]+)`", c[0])
            tables[heading].append((n, names, c[1] if len(c) > 1 else ""))
        else:
            in_table = False
    return tables, orphans


def defaults_of(names, cell):
    """One default for each name: "false, 0" gives shuffle false and seed
    0; a cell that does not split into as many parts holds for each."""
    parts = [p.strip() for p in cell.split(", ")]
    if len(names) > 1 and len(parts) == len(names):
        return parts
    return [cell] * len(names)


def shown(v):
    if isinstance(v, GObject.GEnum):
        return v.value_nick
    return repr(v)


def literal_matches(text, v, pspec):
    """Whether the README's literal text is the value v of pspec."""
    t = text
    if len(t) >= 2 and t[0] == t[-1] == "`":
        t = t[1:-1]
    vt = pspec.value_type
    if vt == GObject.TYPE_BOOLEAN:
        return t in ("true", "false") and (t == "true") == bool(v)
    if vt.is_a(GObject.TYPE_ENUM):
        return t == v.value_nick
    if vt in (GObject.TYPE_INT, GObject.TYPE_UINT, GObject.TYPE_LONG,
              GObject.TYPE_ULONG, GObject.TYPE_INT64, GObject.TYPE_UINT64):
        try:
            return int(t) == v
        except ValueError:
            return False
    if vt in (GObject.TYPE_FLOAT, GObject.TYPE_DOUBLE):
        try:
            x = float(t)
        except ValueError:
            return False
        if math.isnan(v) or math.isnan(x):
            return math.isnan(v) and math.isnan(x)
        # a float property holds the README's decimal to 24 bits
        return math.isclose(x, v, rel_tol=1e-6, abs_tol=1e-30)
    if vt == GObject.TYPE_STRING:
        if t == '""':
            t = ""
        return v is not None and t == v
    return False


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def own_types(gtype):
    """The element's class and any base class of the plugin's own (named
    GstCxr...): their properties are the element's; those of GStreamer's
    classes above them are not."""
    types = {gtype}
    t = gtype.parent
    while t != GObject.TYPE_INVALID and t.name.startswith("GstCxr"):
        types.add(t)
        t = t.parent
    return types


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_readme_properties.py README.md")
    readme = sys.argv[1]
    Gst.init(None)
    tables, orphans = readme_tables(readme)
    check("every property table is under a heading", not orphans,
          f"lines {orphans}" if orphans else "")

    plugin = Gst.Registry.get().find_plugin(PLUGIN)
    check(f"GStreamer finds plugin {PLUGIN}", plugin is not None,
          f"GST_PLUGIN_PATH={os.environ.get('GST_PLUGIN_PATH')}")
    if plugin is None:
        finish("README property")
        return
    factories = sorted(
        f.get_name() for f in
        Gst.Registry.get().get_feature_list_by_plugin(PLUGIN)
        if isinstance(f, Gst.ElementFactory))
    check("the plugin has elements", bool(factories), ", ".join(factories))

    used = set()
    for name in factories:
        element = Gst.ElementFactory.make(name)
        if not ok(f"{name}: can be made", element is not None):
            continue
        mine = own_types(element.__gtype__)
        pspecs = {p.name: p for p in element.list_properties()}
        own = sorted(p for p, s in pspecs.items() if s.owner_type in mine)
        rows = tables.get(name)
        if not ok(f"{name}: README has a '### {name}' section with a "
                     "property table", rows is not None):
            continue
        # the default gst-inspect-1.0 shows: the value a fresh element
        # reads (the pspec's default for a property it cannot read)
        value = {}
        for p, s in pspecs.items():
            if s.flags & GObject.ParamFlags.READABLE:
                value[p] = element.get_property(p)
            else:
                value[p] = s.default_value

        seen = {}
        for line, names, cell in rows:
            if not names:
                check(f"{name}: README line {line} names a property", False,
                      "no `name` in its first cell")
                continue
            for prop, text in zip(names, defaults_of(names, cell)):
                where = f"{name} {prop} (README line {line})"
                if prop in seen:
                    check(f"{where}: one row", False,
                          f"also on line {seen[prop]}")
                    continue
                seen[prop] = line
                if prop not in pspecs:
                    check(f"{where}: is a property of {name}", False,
                          "no such property")
                    continue
                s, v = pspecs[prop], value[prop]
                described = DESCRIPTIONS.get((name, prop))
                if described and text == described[0]:
                    used.add((name, prop))
                    check(f"{where}: '{text}' holds for the code's default",
                          described[1](v, s), f"default {shown(v)}")
                else:
                    check(f"{where}: default '{text}' is the code's",
                          literal_matches(text, v, s),
                          f"code: {shown(v)}" + (
                              f"; allowed description: '{described[0]}'"
                              if described else ""))
        missing = [p for p in own if p not in seen]
        check(f"{name}: every property of its own is in the table",
              not missing, "missing: " + ", ".join(missing) if missing
              else f"{len(own)} properties")
        # what gst-inspect-1.0 shows is what a writable property's
        # GParamSpec says (else the README could only match one of them)
        differ = [f"{p}: pspec {shown(pspecs[p].default_value)}, "
                  f"element {shown(value[p])}" for p in own
                  if pspecs[p].flags & GObject.ParamFlags.WRITABLE
                  and not same(pspecs[p].default_value, value[p])]
        check(f"{name}: a fresh element holds its properties' defaults",
              not differ, "; ".join(differ))

    for heading in sorted(h for h in tables
                          if h is not None and h not in factories):
        check(f"property table under '{heading}' is of an element of "
              f"{PLUGIN}", False, "no such element")
    stale = sorted(f"{e} {p}" for e, p in DESCRIPTIONS
                   if (e, p) not in used)
    check("every allowed description is used by the README", not stale,
          "unused: " + ", ".join(stale) if stale else "")
    finish("README property")


main()

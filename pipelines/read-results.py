#!/usr/bin/python3
"""Reads gst-cxr's results off each buffer, in Python: a pad probe after
cxrclassify prints each film's answer, and with --heatmaps DIR saves where
the network looked as a PNG a film.

    /usr/bin/python3 read-results.py [FOLDER] [--heatmaps DIR]

FOLDER: a folder of films as cxrdatasetsrc reads it (default: the sample
films). Needs PyGObject (python3-gi) and the GstCxr introspection data
(gir1.2-gstcxr-1.0; from a build folder, GI_TYPELIB_PATH and
LD_LIBRARY_PATH on its plugin/ folder)."""
import argparse
import os
import struct
import sys
import zlib

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstCxr", "1.0")
from gi.repository import Gst, GstCxr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_FILMS = [os.path.join(HERE, "sample-films"),
                "/usr/share/gst-cxr/sample-films"]


def save_png(path, width, height, values, cell=16):
    """A grid of values in [0, 1], row by row, as a grey PNG (white where
    the evidence is strongest), each cell cell x cell pixels."""
    rows = b""
    for y in range(height):
        row = bytes(round(255 * values[y * width + x])
                    for x in range(width) for _ in range(cell))
        rows += (b"\0" + row) * cell

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width * cell, height * cell, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def on_buffer(pad, info, heatmaps):
    """The pad probe: one line a classified film, and its heatmap."""
    buf = info.get_buffer()
    result = GstCxr.buffer_get_cxr_classification_meta(buf)
    truth = GstCxr.buffer_get_cxr_label_meta(buf)
    if result is None:
        return Gst.PadProbeReturn.OK
    name = truth.get_source() if truth else f"frame at {buf.pts / Gst.SECOND:.0f} s"
    if result.is_abstained():
        reason = GstCxr.cxr_abstain_reason_name(result.get_abstain_reason())
        line = f"{name}: no diagnosis ({reason})"
    else:
        last = result.get_n_classes() - 1
        line = (f"{name}: {result.get_label()} (P({result.get_class_name(last)})"
                f" = {result.get_probability(last):.3f},"
                f" threshold {result.get_threshold():.3f})")
    if truth and truth.get_class_name():
        line += f", truly {truth.get_class_name()}"
    print(line, flush=True)

    heatmap = GstCxr.buffer_get_cxr_heatmap_meta(buf)
    if heatmaps and heatmap:
        width, height = heatmap.get_size()
        png = os.path.join(heatmaps, name.replace(os.sep, "_") + ".png")
        save_png(png, width, height, heatmap.get_values())
    return Gst.PadProbeReturn.OK


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?",
                        default=next((f for f in SAMPLE_FILMS
                                      if os.path.isdir(f)), SAMPLE_FILMS[-1]))
    parser.add_argument("--heatmaps", metavar="DIR",
                        help="save each film's heatmap as DIR/FILE.png")
    args = parser.parse_args()
    if args.heatmaps:
        os.makedirs(args.heatmaps, exist_ok=True)

    Gst.init(None)
    pipeline = Gst.parse_launch(
        "cxrdatasetsrc name=films target-size=124"
        f" ! cxrclassify heatmap={'true' if args.heatmaps else 'false'}"
        " name=classify ! fakesink")
    pipeline.get_by_name("films").set_property("location", args.folder)
    pipeline.get_by_name("classify").get_static_pad("src").add_probe(
        Gst.PadProbeType.BUFFER, on_buffer, args.heatmaps)

    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if message.type == Gst.MessageType.ERROR:
        error, _ = message.parse_error()
        print(f"read-results: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

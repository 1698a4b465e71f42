"""What the Python tests read off gst-cxr's structured reports (TID 1500,
plugin/io/dicomsr.h), with pydicom datasets."""


def walk(items):
    """every content item of an SR tree, depth first"""
    for item in items:
        yield item
        yield from walk(item.get("ContentSequence", []))


def named(sr, meaning):
    """the content items whose concept name means meaning"""
    return [i for i in walk(sr.ContentSequence)
            if "ConceptNameCodeSequence" in i
            and i.ConceptNameCodeSequence[0].CodeMeaning == meaning]


def film_of(sr):
    """the reference (SOP Instance UID, frame) to the film the certainty was
    inferred from, or None"""
    source = named(sr, "Source of Measurement")
    return source[0].ReferencedSOPSequence[0] if source else None


def label(sr):
    """the report's answer as cxrclassify's class name: pneumonia present
    or absent"""
    code = named(sr, "Pneumonia")[0].ConceptCodeSequence[0].CodeValue
    return {"52101004": "PNEUMONIA", "2667000": "NORMAL"}.get(code)


def probability(sr):
    """P(PNEUMONIA), from the certainty of the finding in %"""
    item = named(sr, "Certainty of Finding")[0]
    return float(item.MeasuredValueSequence[0].NumericValue) / 100


def threshold(sr):
    """the decision threshold, from its value in %"""
    item = named(sr, "Threshold Value")[0]
    return float(item.MeasuredValueSequence[0].NumericValue) / 100

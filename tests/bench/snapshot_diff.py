"""Compares two folders written by tests/bench/snapshot.sh:

    python3 tests/bench/snapshot_diff.py BEFORE AFTER

Text files must be identical byte for byte. JSON and JSON Lines files must
hold the same values: the same keys in the same order, the same strings,
and numbers that are the same double, or, where either side is a float32
value written with fewer digits, the same float32. So a change of JSON
writer that spells a number differently passes, and any change of a value
fails. Prints each difference; exits 1 if there is any."""
import json
import os
import struct
import sys


def as_float32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def same_number(a, b):
    if a == b:
        return True
    # a float32 written once with 9 significant digits, once with 17
    fa, fb = as_float32(a), as_float32(b)
    return fa == fb and (fa == a or fb == b)


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return same_number(float(a), float(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def json_values(path):
    with open(path) as f:
        if path.endswith('.jsonl'):
            return [json.loads(line) for line in f if line.strip()]
        return [json.load(f)]


def main():
    before, after = sys.argv[1], sys.argv[2]
    names = sorted(set(os.listdir(before)) | set(os.listdir(after)))
    differences = 0
    for name in names:
        a, b = os.path.join(before, name), os.path.join(after, name)
        if not (os.path.exists(a) and os.path.exists(b)):
            print(f'{name}: only in {before if os.path.exists(a) else after}')
            differences += 1
            continue
        if name.endswith(('.json', '.jsonl')):
            va, vb = json_values(a), json_values(b)
            bad = [i for i, (x, y) in enumerate(zip(va, vb)) if not same(x, y)]
            if len(va) != len(vb) or bad:
                print(f'{name}: {len(va)} against {len(vb)} values, '
                      f'{len(bad)} differ (first: {bad[:3]})')
                differences += 1
        elif open(a, 'rb').read() != open(b, 'rb').read():
            print(f'{name}: differs')
            differences += 1
    print(f'{len(names)} files compared, {differences} differ')
    return 1 if differences else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/python3
"""Scores cxrmetasink JSON lines: ROC AUC, and accuracy, sensitivity,
specificity and balanced accuracy at the model's threshold and at any other
thresholds given.

    score_jsonl.py RESULTS.jsonl [THRESHOLD ...]
"""
import json
import sys


def auc(pos, neg):
    # ties count half, as kernels/eval/metrics.c does
    scores = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank, i, total = 0.0, 0, 0.0
    while i < len(scores):
        j = i
        while j < len(scores) and scores[j][0] == scores[i][0]:
            j += 1
        mid = (i + j + 1) / 2.0
        total += mid * sum(1 for k in range(i, j) if scores[k][1])
        i = j
    return (total - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg))


def at(pos, neg, t):
    sens = sum(p >= t for p in pos) / len(pos)
    spec = sum(n < t for n in neg) / len(neg)
    acc = (sens * len(pos) + spec * len(neg)) / (len(pos) + len(neg))
    return acc, sens, spec, (sens + spec) / 2


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    rows = [r for r in rows if r.get("truth") is not None
            and not r.get("abstained")]
    last = rows[0]["classes"][-1]
    pos = [r["probabilities"][-1] for r in rows if r["truth"] == last]
    neg = [r["probabilities"][-1] for r in rows if r["truth"] != last]
    out = {"n": len(rows), "auc": auc(pos, neg)}
    for t in [rows[0]["threshold"]] + [float(a) for a in sys.argv[2:]]:
        acc, sens, spec, bal = at(pos, neg, t)
        out["t=%.4g" % t] = {"accuracy": round(acc, 4),
                             "sensitivity": round(sens, 4),
                             "specificity": round(spec, 4),
                             "balanced": round(bal, 4)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

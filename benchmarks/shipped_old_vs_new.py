"""The previous shipped model next to the new one, on the same test records -> benchmarks/results/shipped_old_vs_new.json.

    git show <old commit>:src/pocketecg/weights/lite-six/model.pt > /tmp/old/model.pt   (and config.json)
    python benchmarks/shipped_old_vs_new.py --old /tmp/old --new runs/lite-cf5 --cache cache/shared-v2

Both models see the same preprocessed windows of the cache's test split (today's preprocessing and labels)
and keep their own thresholds; the macro-F1 difference gets a paired bootstrap CI over test records. The
old model's training split was drawn before the split change, so a few of today's non-PTB-XL test records
may have been in its training data: the comparison can only flatter the old model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pocketecg.cache import PreparedCache, PreparedDataset
from pocketecg.evaluate import score_records
from pocketecg.inference import decide, load_run, record_probabilities
from pocketecg.metrics import paired_difference_ci

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--cache", default="cache/shared-v2")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    cache = PreparedCache(args.cache)
    results, preds = {}, {}
    for name, run in (("old", args.old), ("new", args.new)):
        model, config = load_run(run)
        classes = tuple(config["classes"])
        thresholds = np.array([config["thresholds"][c] for c in classes])
        keys, y, p = record_probabilities(model, PreparedDataset(cache, "test", classes), None)
        scores = score_records(y, p, thresholds, classes, args.bootstrap)
        sources = cache.rows("test").drop_duplicates("record").set_index("record")["source"]
        src = np.array([sources[k] for k in keys])
        ptbxl = np.char.startswith(src.astype(str), "ptbxl")
        results[name] = {"run": str(run), "thresholds": config["thresholds"],
                         "thresholds_from": config.get("thresholds_from", "validation split"),
                         "test": scores,
                         "test_ptbxl_only": score_records(y[ptbxl], p[ptbxl], thresholds, classes, 0),
                         "test_other_sources": score_records(y[~ptbxl], p[~ptbxl], thresholds, classes, 0)}
        preds[name] = (keys, y, decide(p, thresholds))
    assert np.array_equal(preds["old"][0], preds["new"][0])
    y = preds["new"][1]
    results["new_minus_old_macro_f1"] = paired_difference_ci(y, preds["new"][2], preds["old"][2], n=args.bootstrap)
    results["test_records"] = int(len(y))
    results["cache"] = str(args.cache)
    out = ROOT / "benchmarks" / "results" / "shipped_old_vs_new.json"
    out.write_text(json.dumps(results, indent=2, default=float))
    for name in ("old", "new"):
        t = results[name]["test"]
        print(f"{name}: macro-F1 {t['macro_f1']:.3f} {t.get('ci95', {}).get('macro_f1') if isinstance(t.get('ci95'), dict) else ''} "
              f"AUROC {t['macro_auroc']:.3f}")
    print("new - old:", results["new_minus_old_macro_f1"])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

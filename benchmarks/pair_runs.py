"""Two finished runs scored on the same test records, with a paired bootstrap of the macro-F1 difference.

    python benchmarks/pair_runs.py runs/compare-six/lite runs/compare-six/resnet1d18 --out benchmarks/results/pair.json

For when `pocketecg compare` cannot finish every model (its full report needs all of them): each run is
evaluated on its own cache's test split (`evaluate_run`, thresholds fixed from its training), and B - A is
bootstrapped over records.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pocketecg.evaluate import evaluate_run
from pocketecg.inference import decide
from pocketecg.metrics import paired_difference_ci


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--out", required=True)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    report, preds = {}, {}
    for run in (args.a, args.b):
        metrics = evaluate_run(run, "test", bootstrap=args.bootstrap, plots=False)
        config = json.loads((Path(run) / "config.json").read_text())
        with np.load(Path(run) / "predictions-test.npz") as d:
            preds[run] = (d["records"], d["y"], decide(d["p"], d["thresholds"]))
        report[run] = {"macro_f1": metrics["macro_f1"], "macro_f1_ci95": metrics["ci95"]["macro_f1"],
                       "macro_auroc": metrics["macro_auroc"], "records": metrics["records"],
                       "f1": {c: s["f1"] for c, s in metrics["per_class"].items()},
                       "best_epoch": config["best_epoch"], "epochs_run": config["epochs_run"],
                       "train_seconds_per_epoch": config["train_seconds_per_epoch"],
                       "split_manifest_sha256": config["split_manifest_sha256"]}
    (ra, ya, pa), (rb, _, pb) = preds[args.a], preds[args.b]
    if not np.array_equal(ra, rb):
        raise SystemExit("the two runs were scored on different test records")
    report["b_minus_a_macro_f1"] = paired_difference_ci(ya, pb, pa, n=args.bootstrap)
    Path(args.out).write_text(json.dumps(report, indent=2, default=float))
    print(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()

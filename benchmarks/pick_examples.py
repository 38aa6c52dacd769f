"""Write src/pocketecg/app/examples.json: the phone page's real examples and what the shipped model says.

    python benchmarks/pick_examples.py ../shared/data/ptbxl [cache/shared-v2]

The records were chosen by hand from this project's test split (PTB-XL strat_fold 10): per class one the
shipped model finds, and one it misses, so a first tap shows both what the model does and that it can be
wrong. Test split only, because the shipped model is a cross-fitted final model trained on all of train+val,
the validation records (strat_fold 9) included: an example from there would show the model a record it
learnt from. With the cache's manifest given, the script refuses an example outside the test split. When a
new model no longer finds a class in its example, the example is re-chosen the same way (liteC-kd2, the
ensemble-distilled model: every example moved to the test split, 00218 is the new miss). This script
re-reads them from a local PTB-XL copy (sizes, SHA-256, the cardiologists' statements) and re-runs the shipped model, so after
a new model ships the page's "the model says" stays true (tests/app/test_examples.py checks it).
"""

from __future__ import annotations

import ast
import csv
import json
import sys
from pathlib import Path

from pocketecg.app.examples import MANIFEST
from pocketecg.download import sha256_of
from pocketecg.inference import SHIPPED_DIR
from pocketecg.predict import Predictor

PICKED = [  # (ecg_id, what it shows)
    (9, "a normal ECG"),
    (318, "atrial fibrillation (the cardiologists also report ST depression, which the model misses here)"),
    (347, "first-degree AV block (with atrial flutter, ischaemic ST-T changes and LVH, which the model does not "
          "assess)"),
    (180, "left bundle branch block (the model also flags a first-degree AV block the cardiologists did not "
          "report)"),
    (172, "right bundle branch block (with left anterior fascicular block, which the model does not assess)"),
    (271, "ST depression (with an old anteroseptal infarction and LVH, which the model does not assess)"),
    (218, "a miss: the cardiologists' first-degree AV block (prolonged PR) that the model does not find: it "
          "calls the ECG normal (the cardiologists' statements include NORM too)"),
]
SOURCE = {
    "dataset": "PTB-XL 1.0.3",
    "url": "https://physionet.org/files/ptb-xl/1.0.3/",
    "licence": "CC BY 4.0",
    "credit": "Wagner P, Strodthoff N, Bousseljot R-D, et al. PTB-XL, a large publicly available "
              "electrocardiography dataset. Scientific Data 7, 154 (2020); PhysioNet, CC BY 4.0.",
}


def test_split_records(cache: Path) -> set[str]:
    """The PTB-XL record paths (records500/...) the cache's manifest puts in the test split."""
    with open(cache / "manifest.csv", newline="") as fh:
        return {r["record"].split("ptbxl/", 1)[1] for r in csv.DictReader(fh)
                if r["record"].startswith("ptbxl/") and r["split"] == "test"}


def main(ptbxl: Path, cache: Path | None = None) -> None:
    rows = {int(float(r["ecg_id"])): r for r in csv.DictReader(open(ptbxl / "ptbxl_database.csv"))}
    in_test = test_split_records(cache) if cache else None
    predictor = Predictor.shipped()
    examples = []
    for ecg_id, shows in PICKED:
        rel = f"records500/{ecg_id // 1000 * 1000:05d}/{ecg_id:05d}_hr"
        if in_test is not None and rel not in in_test:
            sys.exit(f"{rel}: not in the test split of {cache}; the shipped model may have trained on it")
        prediction = predictor.predict_file(ptbxl / f"{rel}.hea")
        row = rows[ecg_id]
        examples.append({
            "id": f"{ecg_id:05d}_hr", "path": rel, "strat_fold": int(row["strat_fold"]), "shows": shows,
            "cardiologists": sorted(ast.literal_eval(row["scp_codes"])),
            "findings": prediction.labels,
            "probabilities": {c: round(p, 3) for c, p in prediction.probabilities.items()},
            "files": [{"name": f"{ecg_id:05d}_hr.{ext}", "size": (ptbxl / f"{rel}.{ext}").stat().st_size,
                       "sha256": sha256_of(ptbxl / f"{rel}.{ext}")} for ext in ("hea", "dat")],
        })
        print(f"{rel}: {shows}; model finds {', '.join(prediction.labels) or 'nothing'}")
    model = {"name": json.loads((SHIPPED_DIR / "config.json").read_text())["model"],
             "model_onnx_sha256": sha256_of(SHIPPED_DIR / "model.onnx")}
    MANIFEST.write_text(json.dumps({"source": SOURCE, "shipped_model": model, "examples": examples},
                                   indent=1) + "\n")
    print(f"wrote {MANIFEST}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)

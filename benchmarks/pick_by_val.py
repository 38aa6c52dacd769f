"""Copy the finished run with the best validation macro-F1 to DEST (a choice made on validation only).

    python benchmarks/pick_by_val.py DEST RUN [RUN ...]

Used by run_compare.sh for the one baseline whose learning rate is chosen per model (squeezenet1d).
Prints every candidate's validation score and which one was taken; the test split is not read.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def main(dest: str, runs: list[str]) -> None:
    scores = {}
    for run in map(Path, runs):
        config = json.loads((run / "config.json").read_text())
        scores[run] = config["val_macro_f1"]
        print(f"{run}: lr {config['train_config']['lr']}, val macro-F1 {scores[run]:.4f} "
              f"(best epoch {config['best_epoch']} of {config['epochs_run']})")
    best = max(scores, key=scores.get)
    if Path(dest).exists():
        shutil.rmtree(dest)
    shutil.copytree(best, dest)
    print(f"chosen on validation: {best} -> {dest}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])

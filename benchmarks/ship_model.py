"""Copy a finished run into the package as the shipped model, with its int8 ONNX and SHA-256 sums.

    python benchmarks/ship_model.py runs/lite            # -> src/pocketecg/weights/lite-six/

Ships: config.json (model, classes, thresholds, preprocessing; the cache path is dropped), model.pt
(state_dict, loaded with weights_only=True), model.onnx (fp32: the phone page, which must give Python's
probabilities to 1e-4), model-int8.onnx (the compact export for native apps), SHA256SUMS.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from pocketecg.export import export_run
from pocketecg.inference import SHIPPED_DIR, SHIPPED_FILES


def without_machine_paths(value, run_dir: Path):
    """Provenance stays, this machine's paths go: absolute paths become relative to the run (or just a name)."""
    if isinstance(value, dict):
        return {k: without_machine_paths(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [without_machine_paths(v, run_dir) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        path = Path(value)
        try:
            return str(path.relative_to(run_dir.resolve()))
        except ValueError:
            return path.name
    if isinstance(value, str):  # a path inside a sentence ("the validation split of /home/...")
        return value.replace(f"{Path.cwd().resolve()}/", "")
    return value


def main(run: str) -> None:
    run_dir = Path(run)
    dest = SHIPPED_DIR
    dest.mkdir(parents=True, exist_ok=True)
    config = json.loads((run_dir / "config.json").read_text())
    fp32 = export_run(run_dir, dest / "model.onnx", "onnx", log=print)
    report = export_run(run_dir, dest / "model-int8.onnx", "onnx-int8", log=print)
    print(json.dumps({"fp32": fp32, "int8": report}, indent=2))
    if report["label_agreement"] < 0.99:
        sys.exit("int8 label agreement below 99 %: not shipping")
    config["cache"] = None  # a user's machine has no such folder; the split hash stays as provenance
    config["shipped_from"] = str(run_dir)
    config["fp32_export"] = fp32
    config["int8_export"] = report
    config = without_machine_paths(config, run_dir)
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    shutil.copy2(run_dir / "model.pt", dest / "model.pt")
    sums = [f"{hashlib.sha256((dest / n).read_bytes()).hexdigest()}  {n}" for n in SHIPPED_FILES]
    (dest / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    print(f"shipped {run_dir} -> {dest}")


if __name__ == "__main__":
    main(sys.argv[1])

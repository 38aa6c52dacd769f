#!/usr/bin/env bash
# Rerun the full comparison on the shared corpus and refresh benchmarks/results/compare.json.
# Long: every model is trained (finished runs are reused; a killed run resumes).
# Run it in the background:  nohup bash benchmarks/run_compare.sh > logs/compare.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-cache/shared}
RUNS=runs/compare-six
[ -f "$CACHE/cache.json" ] || .venv/bin/pocketecg prepare --data "$DATA" --out "$CACHE"

# Every model gets the shared recipe (AdamW, lr 3e-3, BCE, same augmentations, patience 10), except that
# SqueezeNet-1D (no batch norm) collapses to the class priors at lr 3e-3; its lr is chosen on validation
# among 3e-3, 1e-3 and 3e-4.
for lr in 0.003 0.001 0.0003; do
  out=runs/compare-six-lr/squeezenet1d-lr$lr
  [ -f "$out/config.json" ] || .venv/bin/pocketecg train --model squeezenet1d --classes six --cache "$CACHE" \
    --out "$out" --lr $lr --resume
done
[ -f "$RUNS/squeezenet1d/config.json" ] || .venv/bin/python benchmarks/pick_by_val.py "$RUNS/squeezenet1d" \
  runs/compare-six-lr/squeezenet1d-lr0.003 runs/compare-six-lr/squeezenet1d-lr0.001 runs/compare-six-lr/squeezenet1d-lr0.0003

.venv/bin/pocketecg compare --models lite,resnet1d18,seresnet18,alexnet1d,squeezenet1d --classes six \
  --cache "$CACHE" --out reports/compare --runs "$RUNS"
mkdir -p benchmarks/results
cp reports/compare/results.json benchmarks/results/compare.json
echo "benchmarks/results/compare.json updated; copy the table from reports/compare/report.md into BENCHMARKS.md"

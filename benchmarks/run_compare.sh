#!/usr/bin/env bash
# Rerun the full comparison on the shared corpus and refresh benchmarks/results/compare.json.
# Long: every model is trained (finished runs in runs/compare-six are reused; a killed run resumes).
# Run it in the background:  nohup bash benchmarks/run_compare.sh > logs/compare.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-cache/shared}
[ -f "$CACHE/cache.json" ] || .venv/bin/pocketecg prepare --data "$DATA" --out "$CACHE"
.venv/bin/pocketecg compare --models lite,resnet1d18,seresnet18,alexnet1d,squeezenet1d --classes six \
  --cache "$CACHE" --out reports/compare
mkdir -p benchmarks/results
cp reports/compare/results.json benchmarks/results/compare.json
echo "benchmarks/results/compare.json updated; copy the table from reports/compare/report.md into BENCHMARKS.md"

#!/usr/bin/env bash
# Mutation testing (mutmut 3) of the decision code: labels, metrics, preprocess, predict, inference.
# Long (~40 min on 2 cores): nohup bash benchmarks/mutation.sh > logs/mutation.log 2>&1 &
# mutmut runs the tests against mutated copies in mutants/; the project's editable install would put the
# unmutated src/ first on sys.path, so this runs from a copy of the repository with a venv that sees the
# project's packages (torch...) but not its editable install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/pocketecg-mutation}
SITE=$("$ROOT/.venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
rm -rf "$WORK/repo" && mkdir -p "$WORK/repo"
git -C "$ROOT" ls-files -z | (cd "$ROOT" && xargs -0 tar -c) | tar -x -C "$WORK/repo"
[ -x "$WORK/venv/bin/python" ] || "$ROOT/.venv/bin/python" -m venv "$WORK/venv"
# a plain path entry: .pth files inside it (the editable install's among them) are not processed
echo "$SITE" > "$("$WORK/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/project-venv.pth"
"$WORK/venv/bin/python" -c "import mutmut" 2>/dev/null || "$WORK/venv/bin/pip" install --quiet mutmut==3.8.1
cd "$WORK/repo"
OMP_NUM_THREADS=1 "$WORK/venv/bin/python" -m mutmut run --max-children "${CHILDREN:-1}" || true
"$WORK/venv/bin/python" -m mutmut results --all true > "$WORK/results.txt" 2>/dev/null
"$ROOT/.venv/bin/python" - "$WORK/results.txt" "$ROOT/benchmarks/results/mutation.json" <<'PY'
import collections, json, sys, time
rows = [line.strip().rsplit(": ", 1) for line in open(sys.argv[1]) if ": " in line]
by_module = collections.defaultdict(collections.Counter)
for name, status in rows:
    by_module[name.split(".")[1]][status] += 1
total = collections.Counter(s for _, s in rows)
tested = sum(total.values()) - total["no tests"]
out = {"date": time.strftime("%Y-%m-%d"), "mutants": sum(total.values()), "status": dict(total),
       "kill_rate": round((total["killed"] + total["timeout"]) / max(tested, 1), 4),
       "kill_rate_all": round((total["killed"] + total["timeout"]) / max(sum(total.values()), 1), 4),
       "per_module": {m: dict(c) for m, c in sorted(by_module.items())},
       "survivors": sorted(n for n, s in rows if s == "survived")}
open(sys.argv[2], "w").write(json.dumps(out, indent=2) + "\n")
print(f"{out['mutants']} mutants, kill rate {out['kill_rate']:.1%} of those with tests ({out['kill_rate_all']:.1%} of all)")
PY

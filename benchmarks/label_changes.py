"""How many records a change of the label rules moves, per source and class.

    python benchmarks/label_changes.py dump --data ../shared/data --out new.json
    PYTHONPATH=<old checkout>/src python benchmarks/label_changes.py dump --data ../shared/data --out old.json
    python benchmarks/label_changes.py diff old.json new.json --out benchmarks/results/label_changes.json

`dump` reads every record with whichever pocketecg is importable and writes {record: labels};
`diff` counts, per source and class, records that gained or lost the class.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def dump(folders: list[Path], out: Path) -> None:
    from pocketecg.data.scan import scan

    result = scan(folders)
    table = {e.path: {"source": e.source, "labels": None if e.labels is None else sorted(e.labels)}
             for e in result.entries}
    out.write_text(json.dumps(table, indent=1, sort_keys=True))
    print(f"{len(table)} records -> {out}")


def diff(before: Path, after: Path) -> dict:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    moved: dict = defaultdict(lambda: defaultdict(lambda: {"gained": 0, "lost": 0}))
    changed = defaultdict(int)
    records = defaultdict(int)
    for path, new in b.items():
        old = a.get(path)
        if old is None:
            continue
        source = new["source"]
        records[source] += 1
        old_set, new_set = set(old["labels"] or ()), set(new["labels"] or ())
        changed[source] += old_set != new_set
        for c in new_set - old_set:
            moved[source][c]["gained"] += 1
        for c in old_set - new_set:
            moved[source][c]["lost"] += 1
    return {"records": dict(records), "records_changed": dict(changed),
            "per_source_class": {s: dict(v) for s, v in sorted(moved.items())},
            "total_changed": sum(changed.values())}


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--data", type=Path, action="append", required=True)
    d.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("diff")
    f.add_argument("before", type=Path)
    f.add_argument("after", type=Path)
    f.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.data, args.out)
    else:
        result = diff(args.before, args.after)
        text = json.dumps(result, indent=2)
        print(text)
        if args.out:
            args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

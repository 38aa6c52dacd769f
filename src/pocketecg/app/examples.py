"""Real example records for the phone page: PTB-XL records (CC BY 4.0) fetched from PhysioNet.

The records are not in git (the project ships no dataset files): `make examples` / `pocketecg examples`
downloads the ones listed in `examples.json`, checks each file's size and SHA-256, and `build_site` then
offers them on the page with their credit. Without them the page falls back to synthetic records and says so.
`examples.json` also documents what the shipped model says on each one (`benchmarks/pick_examples.py`
rewrites that after a new model ships; a test holds the two together).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin

from pocketecg.download import DownloadError, RemoteFile, fetch, sha256_of

MANIFEST = Path(__file__).with_name("examples.json")
# where `make examples` puts them; gitignored, like the page's npm runtime
DEFAULT_DIR = Path(__file__).with_name("examples-data")


def load_manifest(path: str | Path = MANIFEST) -> dict:
    return json.loads(Path(path).read_text())


def _remote_files(manifest: dict, mirror: str | None):
    base = (mirror.rstrip("/") + "/") if mirror else manifest["source"]["url"]
    for example in manifest["examples"]:
        folder = example["path"].rsplit("/", 1)[0]
        for f in example["files"]:
            rel = f"{folder}/{f['name']}"
            yield f, RemoteFile(urljoin(base, rel), f["size"], f["sha256"])


def download_examples(dest: str | Path = DEFAULT_DIR, mirror: str | None = None, manifest: dict | None = None,
                      log=print) -> Path:
    """Fetch every example file into `dest` (flat: the page opens `NAME.hea` with `NAME.dat`), checked."""
    manifest = manifest or load_manifest()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for f, remote in _remote_files(manifest, mirror):
        target = dest / f["name"]
        if sha256_of(target) == f["sha256"]:
            log(f"{f['name']}: already here")
            continue
        target.unlink(missing_ok=True)
        fetch(remote, target, log=log)
    missing = missing_examples(dest, manifest)
    if missing:  # fetch checks each file; this catches a manifest that names one file twice, or a race
        raise DownloadError(f"{dest}: {', '.join(missing)} missing or changed after download")
    return dest


def missing_examples(folder: str | Path, manifest: dict | None = None) -> list[str]:
    """Files of the manifest that are absent from `folder` or differ from their pinned SHA-256."""
    manifest = manifest or load_manifest()
    folder = Path(folder)
    return [f["name"] for e in manifest["examples"] for f in e["files"]
            if sha256_of(folder / f["name"]) != f["sha256"]]

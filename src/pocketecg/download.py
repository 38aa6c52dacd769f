"""Download the official CPSC 2018 and PTB-XL archives: resumable, checked, extracted.

Checks, in order: the byte count against the server's Content-Length/Content-Range (and a pinned
size where known); the SHA-256 against a pinned value where one is published; every zip member's
CRC-32; and after extraction the dataset's own content check (PTB-XL ships SHA256SUMS.txt and every
extracted file is verified against it; CPSC 2018 must yield one .mat per REFERENCE.csv row).
ICBEB publishes no checksums for its archives, so for CPSC the SHA-256 of each download is printed
and written to `.downloads/SHA256SUMS` for the user to compare.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

CHUNK = 1 << 20
TIMEOUT_S = 30


class DownloadError(RuntimeError):
    pass


@dataclass(frozen=True)
class RemoteFile:
    url: str
    size: int | None = None  # bytes, when published
    sha256: str | None = None  # when published

    @property
    def name(self) -> str:
        return Path(urlparse(self.url).path).name


@dataclass(frozen=True)
class Dataset:
    name: str
    folder: str  # extracted under dest/folder
    files: tuple[RemoteFile, ...]
    verify: Callable[[Path], None]


def _verify_cpsc2018(folder: Path) -> None:
    reference = folder / "REFERENCE.csv"
    if not reference.is_file():
        raise DownloadError(f"{reference}: missing after download")
    with open(reference, newline="") as fh:
        names = {row["Recording"] for row in csv.DictReader(fh)}
    found = {p.stem for p in folder.rglob("*.mat")}
    missing = names - found
    if missing:
        raise DownloadError(f"{folder}: {len(missing)} record(s) listed in REFERENCE.csv are missing "
                            f"(e.g. {sorted(missing)[:3]}); the download is incomplete")


def _verify_sha256sums(folder: Path) -> None:
    """PhysioNet projects ship SHA256SUMS.txt; check every file it lists."""
    sums = list(folder.rglob("SHA256SUMS.txt"))
    if not sums:
        raise DownloadError(f"{folder}: SHA256SUMS.txt not found in the archive")
    base = sums[0].parent
    bad = []
    for line in sums[0].read_text().splitlines():
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if name and sha256_of(base / name) != digest:
            bad.append(name)
    if bad:
        raise DownloadError(f"{base}: {len(bad)} file(s) fail their SHA-256 check (e.g. {bad[:3]})")


CPSC_ARCHIVES = "http://hhbucket.oss-cn-hongkong.aliyuncs.com/"
DATASETS: dict[str, Dataset] = {
    "cpsc2018": Dataset(
        "cpsc2018", "cpsc2018",
        (RemoteFile("http://2018.icbeb.org/file/REFERENCE.csv"),
         *(RemoteFile(f"{CPSC_ARCHIVES}TrainingSet{i}.zip") for i in (1, 2, 3))),
        _verify_cpsc2018),
    "ptbxl": Dataset(
        "ptbxl", "ptbxl",
        (RemoteFile("https://physionet.org/static/published-projects/ptb-xl/"
                    "ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3.zip"),),
        _verify_sha256sums),
}


def sha256_of(path: Path) -> str | None:
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(remote: RemoteFile, target: Path, url: str | None = None, log=print) -> Path:
    """Download `remote` to `target`, resuming a `.part` file left by an interrupted run."""
    url = url or remote.url
    part = target.with_name(target.name + ".part")
    if target.is_file() and (remote.size is None or target.stat().st_size == remote.size):
        log(f"{target.name}: already downloaded")
        return target
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have and remote.size in (None, have):  # nothing left to fetch
            part.replace(target)
            return target
        raise DownloadError(f"{url}: server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {urlparse(url).netloc or url} ({reason}); "
                            "check the network connection, or pass --mirror") from None
    with response:
        if response.status == 206:
            total = int(response.headers.get("Content-Range", "*/0").rsplit("/", 1)[-1] or 0) or None
            mode = "ab"
            log(f"{target.name}: resuming at {have:,} bytes")
        else:
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            mode, have = "wb", 0
        with open(part, mode) as fh:
            try:
                shutil.copyfileobj(response, fh, CHUNK)
            except (OSError, urllib.error.URLError) as exc:
                raise DownloadError(f"{url}: connection lost after {fh.tell():,} bytes ({exc}); "
                                    "run the same command again to resume") from None
    got = part.stat().st_size
    expected = remote.size or total
    if expected is not None and got != expected:
        raise DownloadError(f"{url}: got {got:,} bytes, expected {expected:,}; run the same command again to resume")
    digest = sha256_of(part)
    if remote.sha256 and digest != remote.sha256:
        part.unlink()
        raise DownloadError(f"{url}: SHA-256 mismatch (got {digest}, expected {remote.sha256}); the file was removed")
    part.replace(target)
    log(f"{target.name}: {got:,} bytes, sha256 {digest}")
    return target


def extract(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            broken = zf.testzip()
            if broken is not None:
                raise DownloadError(f"{archive}: member {broken} fails its CRC check; delete the file and download again")
            root = folder.resolve()
            for member in zf.infolist():
                dest = (folder / member.filename).resolve()
                if root not in dest.parents and dest != root:
                    raise DownloadError(f"{archive}: member {member.filename!r} would extract outside {folder}")
            zf.extractall(folder)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive}: not a valid zip archive ({exc}); delete it and download again") from None


def download_files(dataset: Dataset, dest: str | Path, mirror: str | None = None, keep_archives: bool = True,
                   log=print) -> Path:
    folder = Path(dest) / dataset.folder
    downloads = Path(dest) / ".downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    sums = []
    for remote in dataset.files:
        url = urljoin(mirror.rstrip("/") + "/", remote.name) if mirror else remote.url
        path = fetch(remote, downloads / remote.name, url, log)
        sums.append(f"{sha256_of(path)}  {remote.name}")
        if zipfile.is_zipfile(path) or path.suffix == ".zip":
            extract(path, folder)
            if not keep_archives:
                path.unlink()
        else:
            shutil.copy2(path, folder / remote.name)
    (downloads / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    dataset.verify(folder)
    return folder


def download_dataset(name: str, dest: str | Path, mirror: str | None = None, keep_archives: bool = True,
                     log=print) -> Path:
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}")
    return download_files(DATASETS[name], dest, mirror, keep_archives, log)

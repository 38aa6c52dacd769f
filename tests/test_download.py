"""`pocketecg download` against a local HTTP server that serves archives the test makes."""

import hashlib
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ecg_files as F
from http_files import RangeHandler, serve_folder
from pocketecg.cli import app
from pocketecg.data.scan import scan
from pocketecg.download import DATASETS, Dataset, DownloadError, RemoteFile, download_files


@pytest.fixture()
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    with serve_folder(served) as url:
        yield served, url


def make_cpsc_archives(served: Path, tmp_path: Path):
    """A miniature CPSC 2018 release: REFERENCE.csv + TrainingSet1..3.zip of original-form .mat files."""
    src = tmp_path / "src"
    for i in range(6):
        F.write_cpsc_original(src / f"TrainingSet{i % 3 + 1}", f"A{i + 1:04d}", F.signal("SNR", seed=i), codes=(1 + i % 2,))
    rows = ["Recording,First_label,Second_label,Third_label"]
    for i in range(6):
        rows.append(f"A{i + 1:04d},{1 + i % 2},,")
    (served / "REFERENCE.csv").write_text("\n".join(rows) + "\n")
    for k in (1, 2, 3):
        with zipfile.ZipFile(served / f"TrainingSet{k}.zip", "w") as zf:
            for mat in sorted((src / f"TrainingSet{k}").glob("*.mat")):
                zf.write(mat, f"TrainingSet{k}/{mat.name}")


def test_cpsc2018_download_extracts_into_reader_layout(server, tmp_path):
    served, url = server
    make_cpsc_archives(served, tmp_path)
    result = CliRunner().invoke(app, ["download", "cpsc2018", "--dest", str(tmp_path / "dl"), "--mirror", url])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "dl" / "cpsc2018"
    records = scan([folder], workers=1)
    assert records.failures == [] and len(records.entries) == 6
    assert {e.key: e.labels for e in records.entries}["TrainingSet2/A0002"] == {"AF"}
    sums = (tmp_path / "dl" / ".downloads" / "SHA256SUMS").read_text()
    assert hashlib.sha256((served / "TrainingSet1.zip").read_bytes()).hexdigest() in sums


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    served, url = server
    make_cpsc_archives(served, tmp_path)
    RangeHandler.cut_after["TrainingSet2.zip"] = 1000
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download_files(DATASETS["cpsc2018"], dest, mirror=url, log=lambda *a: None)
    part = dest / ".downloads" / "TrainingSet2.zip.part"
    assert part.stat().st_size == 1000
    download_files(DATASETS["cpsc2018"], dest, mirror=url, log=lambda *a: None)
    assert ("TrainingSet2.zip", "bytes=1000-") in RangeHandler.requests
    assert (dest / ".downloads" / "TrainingSet2.zip").read_bytes() == (served / "TrainingSet2.zip").read_bytes()


def test_checksum_mismatch_is_refused(server, tmp_path):
    served, url = server
    (served / "a.zip").write_bytes(b"PK not really")
    dataset = Dataset("x", "x", (RemoteFile(url + "a.zip", sha256="0" * 64),), lambda folder: None)
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_files(dataset, tmp_path / "dl", log=lambda *a: None)


def test_wrong_size_is_refused(server, tmp_path):
    served, url = server
    (served / "b.csv").write_text("x\n")
    dataset = Dataset("x", "x", (RemoteFile(url + "b.csv", size=999),), lambda folder: None)
    with pytest.raises(DownloadError, match="expected 999"):
        download_files(dataset, tmp_path / "dl", log=lambda *a: None)


def test_incomplete_release_fails_the_content_check(server, tmp_path):
    served, url = server
    make_cpsc_archives(served, tmp_path)
    with open(served / "REFERENCE.csv", "a") as fh:
        fh.write("A9999,1,,\n")
    with pytest.raises(DownloadError, match="missing"):
        download_files(DATASETS["cpsc2018"], tmp_path / "dl", mirror=url, log=lambda *a: None)


def test_ptbxl_archive_checked_against_its_sha256sums(server, tmp_path):
    served, url = server
    name = DATASETS["ptbxl"].files[0].name
    good = b"ecg_id,patient_id\n1,2\n"
    sums = f"{hashlib.sha256(good).hexdigest()}  ptbxl_database.csv\n"
    with zipfile.ZipFile(served / name, "w") as zf:
        zf.writestr("ptb-xl/SHA256SUMS.txt", sums)
        zf.writestr("ptb-xl/ptbxl_database.csv", b"tampered")
    with pytest.raises(DownloadError, match="fail their SHA-256 check"):
        download_files(DATASETS["ptbxl"], tmp_path / "dl", mirror=url, log=lambda *a: None)


def test_no_network_is_one_clear_line_and_nonzero_exit(tmp_path):
    result = CliRunner().invoke(app, ["download", "ptbxl", "--dest", str(tmp_path), "--mirror", "http://127.0.0.1:9/"])
    assert result.exit_code == 2
    assert "cannot reach 127.0.0.1:9" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unknown_dataset(tmp_path):
    result = CliRunner().invoke(app, ["download", "mitbih", "--dest", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dataset" in result.output

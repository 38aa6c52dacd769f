import json
import shutil

from typer.testing import CliRunner

from pocketecg.cli import app
from pocketecg.data.scan import find_candidates, scan

runner = CliRunner()


def test_candidates_skip_metadata_tables(synthetic_corpus):
    keys = {c.key for c in find_candidates([synthetic_corpus])}
    assert "cpsc/A0000" in keys and "cinc/E00000" in keys and "ptbxl/records500/00000/00001_hr" in keys
    assert "flac/JS00001" in keys and "user/mine" in keys
    assert not any(k.endswith(("REFERENCE", "ptbxl_database")) for k in keys)
    assert len(keys) == 92


def test_scan_reads_all_formats(synthetic_corpus):
    result = scan([synthetic_corpus], workers=1)
    assert result.failures == [] and len(result.entries) == 92
    sources = {e.source for e in result.entries}
    assert sources == {"cinc_georgia", "cpsc2018_original", "ptbxl_records500", "cinc_chapman_shaoxing", "user"}
    flac = next(e for e in result.entries if e.key == "flac/JS00001")
    assert flac.labels == {"RBBB"}  # sinus rhythm + RBBB is not a normal ECG


def test_data_check_cli_counts_and_lists_failures(synthetic_corpus, tmp_path):
    corpus = tmp_path / "c"
    shutil.copytree(synthetic_corpus / "cinc", corpus / "cinc")
    (corpus / "cinc" / "E00003.mat").write_bytes(b"broken")
    result = runner.invoke(app, ["data", "check", "--data", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "records read: 29 of 30" in result.output
    assert "E00003" in result.output and "corrupt or truncated" in result.output
    result = runner.invoke(app, ["data", "check", "--data", str(corpus), "--json"])
    report = json.loads(result.output)
    assert report["per_source"]["cinc_georgia"]["records"] == 29 and len(report["failures"]) == 1


def test_data_check_on_missing_folder_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["data", "check", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "data folder not found" in result.output and "Traceback" not in result.output


def test_data_check_on_folder_without_ecgs_is_exit_2(tmp_path):
    (tmp_path / "readme.md").write_text("nothing here")
    result = runner.invoke(app, ["data", "check", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "no ECG records found" in result.output

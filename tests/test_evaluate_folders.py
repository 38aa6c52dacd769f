"""`pocketecg evaluate --data`: any model on any labelled folder."""

import csv
import json

import pytest
from typer.testing import CliRunner

import ecg_files as F
from pocketecg.cli import app


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_evaluate_folder_json_csv_na_and_copies(tiny_run, tmp_path):
    data = tmp_path / "mine"
    # AF and RBBB only (no SNR/IAVB/LBBB/STD positives), one recording in two forms, one unlabelled file
    for i in range(6):
        x = F.signal(["AF", "RBBB"][i % 2], seed=i)
        F.write_cinc_mat(data / "cinc", f"A{i + 1:04d}", x, dx=["164889003", "59118001"][i % 2])
    F.write_cpsc_original(data / "orig", "A0001", F.signal("AF", seed=0), codes=(2,))
    F.write_csv(data / "unlabelled.csv", F.signal("SNR", seed=9), fs=500)
    (data / "broken.hea").write_text("broken 12 500 5000\n")
    out_csv = tmp_path / "rows.csv"
    result = CliRunner().invoke(app, ["evaluate", "--data", str(data), "--model", str(tiny_run), "--json",
                                      "--csv", str(out_csv), "--bootstrap", "50", "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    d = _strict_json(result.output)
    assert d["records"] == 6 and d["duplicate_copies_skipped"] == 1 and d["unlabelled_skipped"] == 1
    assert len(d["failures"]) == 1 and "broken.hea" in d["failures"][0]["path"]
    assert d["classes_scored"] == ["AF", "RBBB"]
    assert d["per_class"]["SNR"]["f1"] == "n/a" and any(n.startswith("SNR: no positive") for n in d["notes"])
    assert isinstance(d["per_class"]["AF"]["f1"], float) and d["per_class"]["AF"]["positives"] == 3
    assert 0 <= d["macro_f1"] <= 1 and set(d["ci95"]["f1"]) == {"AF", "RBBB"}
    assert set(d["per_source"]) == {"cpsc2018_original", "cpsc2018_wfdb"}
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == 6 and {r["source"] for r in rows if r["record"].endswith("A0001")} == {"cpsc2018_original"}
    assert {"record", "source", "reference", "predicted", "p_AF", "p_STD"} <= set(rows[0])
    assert (tmp_path / "rep" / "roc.png").is_file() and (tmp_path / "rep" / "confusion.png").is_file()
    text = CliRunner().invoke(app, ["evaluate", "--data", str(data), "--model", str(tiny_run), "--bootstrap", "0"])
    assert text.exit_code == 0 and "n/a" in text.output and "note: SNR: no positive" in text.output


def test_evaluate_folder_adds_the_cpsc2018_score_from_reference_order(tiny_run, tmp_path):
    """The challenge score needs REFERENCE.csv's order: found under the folder, or given with --reference."""
    orig, wfdb = tmp_path / "orig", tmp_path / "wfdb"
    cases = {"A0001": (5, 2), "A0002": (2, 5), "A0003": (1,), "A0004": (8,), "A0005": (6,)}  # A0005: PAC only
    for i, (name, codes) in enumerate(cases.items()):
        F.write_cpsc_original(orig, name, F.signal(seed=i), codes=codes)
    # the same records in the WFDB form, whose #Dx lists the labels sorted (AF before RBBB for both)
    dx = {"A0001": "AF,RBBB", "A0002": "AF,RBBB", "A0003": "Normal", "A0004": "STD", "A0005": "PAC"}
    for i, name in enumerate(cases):
        F.write_wfdb(wfdb, name, F.signal(seed=i), dx=dx[name])

    def run(*args):
        result = CliRunner().invoke(app, ["evaluate", "--model", str(tiny_run), "--json", "--bootstrap", "0", *args])
        assert result.exit_code == 0, result.output
        return _strict_json(result.output)

    d = run("--data", str(orig))
    s = d["cpsc2018"]
    assert s["records"] == 4 and s["records_outside_classes"] == 1
    assert set(s["F_per_class"]) == set(d["classes"]) and 0 <= s["F1"] <= 1
    rows = dict(zip(s["confusion"]["classes"], s["confusion"]["counts"]))
    assert sum(map(sum, rows.values())) == 4
    assert "cpsc2018" not in run("--data", str(wfdb))  # sorted #Dx: no order, no challenge score
    from_reference = run("--data", str(wfdb), "--reference", str(orig / "REFERENCE.csv"))["cpsc2018"]
    assert from_reference["records"] == 4 and from_reference["confusion"] == s["confusion"]
    missing = CliRunner().invoke(app, ["evaluate", "--model", str(tiny_run), "--data", str(wfdb),
                                       "--reference", str(tmp_path / "nope.csv")])
    assert missing.exit_code != 0 and "nope.csv: no such REFERENCE.csv" in missing.output


def test_evaluate_without_run_or_data_says_what_to_give():
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code == 2 and "--data" in result.output


@pytest.mark.shared_data
def test_shipped_model_on_real_cinc_folder(shared_data, tmp_path):
    out_csv = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["evaluate", "--data", str(shared_data / "cinc"), "--model", "shipped",
                                      "--csv", str(out_csv), "--json", "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    d = _strict_json(result.output)
    assert d["records"] == 124 and len(list(csv.DictReader(open(out_csv)))) == 124
    assert set(d["per_class"]) == {"SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"} and 0 < d["macro_f1"] <= 1

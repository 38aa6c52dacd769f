"""The phone page's real examples: downloaded from a local HTTP server laid out like PhysioNet, checked by
SHA-256, built into the site, and classified by the shipped model as examples.json documents."""

import hashlib
import json

import pytest
from typer.testing import CliRunner

import ecg_files as F
from http_files import serve_folder
from pocketecg.app import site as S
from pocketecg.app.examples import download_examples, load_manifest, missing_examples
from pocketecg.cli import app
from pocketecg.download import DownloadError, sha256_of
from pocketecg.inference import SHIPPED_DIR
from pocketecg.predict import Predictor


def synthetic_release(tmp_path):
    """Two WFDB records in PhysioNet's PTB-XL layout and a manifest pinning them."""
    served = tmp_path / "served"
    examples = []
    for i, finding in enumerate(("SNR", "AF")):
        folder = served / "records500" / "00000"
        folder.mkdir(parents=True, exist_ok=True)
        F.write_wfdb(folder, f"0000{i + 1}_hr", F.signal(finding, seed=i))
        files = [{"name": f"0000{i + 1}_hr.{ext}", "size": (folder / f"0000{i + 1}_hr.{ext}").stat().st_size,
                  "sha256": sha256_of(folder / f"0000{i + 1}_hr.{ext}")} for ext in ("hea", "dat")]
        examples.append({"id": f"0000{i + 1}_hr", "path": f"records500/00000/0000{i + 1}_hr", "files": files})
    return served, {"source": {"url": "https://physionet.invalid/"}, "examples": examples}


def test_examples_download_from_a_mirror_and_are_checked(tmp_path):
    served, manifest = synthetic_release(tmp_path)
    logs = []
    with serve_folder(served) as url:
        dest = download_examples(tmp_path / "got", mirror=url, manifest=manifest, log=logs.append)
        assert missing_examples(dest, manifest) == []
        assert sorted(p.name for p in dest.iterdir()) == ["00001_hr.dat", "00001_hr.hea", "00002_hr.dat", "00002_hr.hea"]
        download_examples(dest, mirror=url, manifest=manifest, log=logs.append)  # a second run fetches nothing
        assert sum("already here" in line for line in logs) == 4
        # a changed file on the server is refused, named, and not kept
        (served / "records500" / "00000" / "00002_hr.dat").write_bytes(b"\0" * manifest["examples"][1]["files"][1]["size"])
        (dest / "00002_hr.dat").unlink()
        with pytest.raises(DownloadError, match=r"00002_hr\.dat: SHA-256 mismatch"):
            download_examples(dest, mirror=url, manifest=manifest, log=logs.append)
        assert not (dest / "00002_hr.dat").exists()
        assert missing_examples(dest, manifest) == ["00002_hr.dat"]


def test_missing_file_on_the_server_is_a_clear_error(tmp_path):
    served, manifest = synthetic_release(tmp_path)
    (served / "records500" / "00000" / "00001_hr.hea").unlink()
    with serve_folder(served) as url:
        with pytest.raises(DownloadError, match=r"00001_hr\.hea: server answered HTTP 404"):
            download_examples(tmp_path / "got", mirror=url, manifest=manifest, log=lambda *_: None)


def test_site_offers_synthetic_examples_without_the_real_ones(tmp_path):
    if S.vendor_missing():
        pytest.skip("onnxruntime-web is not in the page's vendor folder (make web)")
    site = S.build_site(tmp_path / "site", examples=tmp_path / "nothing-here")
    index = json.loads((site / "examples" / "index.json").read_text())
    assert index and all(not e["real"] and "(synthetic)" in e["title"] for e in index)


@pytest.fixture(scope="module")
def real_examples(shared_data, tmp_path_factory):
    """The real examples, downloaded as a user does, from a local server over ../shared/data/ptbxl."""
    dest = tmp_path_factory.mktemp("examples")
    with serve_folder(shared_data / "ptbxl") as url:
        result = CliRunner().invoke(app, ["examples", "--dest", str(dest), "--mirror", url])
    assert result.exit_code == 0, result.output
    return dest


def test_real_examples_match_their_pinned_checksums(real_examples):
    """Real data: ../shared/data/ptbxl served as PhysioNet would serve PTB-XL."""
    manifest = load_manifest()
    assert missing_examples(real_examples) == []
    assert len(manifest["examples"]) == 7 and manifest["source"]["licence"] == "CC BY 4.0"
    for e in manifest["examples"]:
        assert e["strat_fold"] in (9, 10)  # PTB-XL's validation/test folds: never trained on


def test_examples_json_documents_what_the_shipped_model_says(real_examples):
    """Real data. If this fails after shipping a model: python benchmarks/pick_examples.py ../shared/data/ptbxl"""
    manifest = load_manifest()
    shipped = hashlib.sha256((SHIPPED_DIR / "model.onnx").read_bytes()).hexdigest()
    assert manifest["shipped_model"]["model_onnx_sha256"] == shipped, "examples.json describes another model"
    predictor = Predictor.shipped()
    found = {}
    for e in manifest["examples"]:
        prediction = predictor.predict_file(real_examples / e["files"][0]["name"])
        assert prediction.labels == e["findings"], e["id"]
        found[e["id"]] = set(prediction.labels)
    # one found per class, and at least one miss among them, as the page promises
    assert set().union(*found.values()) >= set(predictor.classes)
    assert any("miss" in e["shows"] for e in manifest["examples"])


def test_site_built_with_real_examples_credits_them(real_examples, tmp_path):
    if S.vendor_missing():
        pytest.skip("onnxruntime-web is not in the page's vendor folder (make web)")
    site = S.build_site(tmp_path / "site", examples=real_examples)
    index = json.loads((site / "examples" / "index.json").read_text())
    assert len(index) == 7 and all(e["real"] and "PTB-XL" in e["credit"] for e in index)
    worker = (site / "sw.js").read_text()
    assert all(f"examples/{f}" in worker for e in index for f in e["files"])  # cached for offline use

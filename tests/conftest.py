from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import ecg_files as F  # noqa: E402

TINY_MODEL = {"widths": [8, 16, 16, 32], "se_reduction": None}  # a lite small enough to train in seconds
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_FORMATS = SHARED_DATA.parent / "formats"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpus beside the project; tests that need it are skipped, saying why, without it."""
    if not (SHARED_DATA / "labels.csv").is_file():
        pytest.skip(f"real-data test: {SHARED_DATA} is absent (CI always has it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_formats() -> Path:
    """Real clinical ECG exports beside the project (../shared/formats, see its README)."""
    if not (SHARED_FORMATS / "README.md").is_file():
        pytest.skip(f"real-data test: {SHARED_FORMATS} is absent (CI always has it)")
    return SHARED_FORMATS


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory) -> Path:
    """A small corpus in every supported format, with labels, across sources."""
    root = tmp_path_factory.mktemp("corpus")
    findings = ["SNR", "AF", "IAVB", "LBBB", "RBBB", "STD"]
    dx = {"SNR": "426783006", "AF": "164889003", "IAVB": "270492004", "LBBB": "164909002",
          "RBBB": "59118001", "STD": "429622005"}
    cpsc = {"SNR": 1, "AF": 2, "IAVB": 3, "LBBB": 4, "RBBB": 5, "STD": 8}
    ptbxl = {"SNR": {"NORM": 100.0, "SR": 0.0}, "AF": {"AFIB": 0.0}, "IAVB": {"1AVB": 100.0},
             "LBBB": {"CLBBB": 100.0}, "RBBB": {"CRBBB": 100.0}, "STD": {"STD_": 0.0, "SR": 0.0}}
    for i in range(30):
        f = findings[i % 6]
        F.write_cinc_mat(root / "cinc", f"E{i:05d}", F.signal(f, seconds=10, seed=i), dx=dx[f])
        F.write_cpsc_original(root / "cpsc", f"A{i:04d}", F.signal(f, seconds=12 + i % 3 * 9, seed=100 + i),
                              codes=(cpsc[f],))
        F.write_ptbxl(root / "ptbxl", i + 1, F.signal(f, seconds=10, seed=200 + i), ptbxl[f],
                      strat_fold=1 + i % 10, patient_id=1000 + i)
    F.write_wfdb(root / "flac", "JS00001", F.signal("RBBB", seed=7), dx="59118001,426783006", fmt="516",
                 lead_names=F.LOWER_LEADS)
    F.write_csv(root / "user" / "mine.csv", F.signal("SNR", seed=8), fs=500)
    return root


@pytest.fixture(scope="session")
def tiny_cache(synthetic_corpus, tmp_path_factory) -> Path:
    """The synthetic corpus prepared at 100 Hz in 5-s windows: trains in seconds."""
    from pocketecg.cache import prepare
    from pocketecg.preprocess import PreprocessSettings

    out = tmp_path_factory.mktemp("tiny_cache")
    prepare([synthetic_corpus], out, PreprocessSettings(fs=100, window_seconds=5, stride_seconds=5), workers=2)
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_cache, tmp_path_factory) -> Path:
    """A tiny `lite` trained for three epochs on the tiny cache: a real run directory in seconds."""
    from pocketecg.train import TrainConfig, train

    out = tmp_path_factory.mktemp("run") / "lite"
    config = TrainConfig(cache=str(tiny_cache), out=str(out), epochs=3, batch_size=8, warmup_epochs=1,
                         model_kwargs=TINY_MODEL, augment=())
    return train(config, log=lambda *_: None)

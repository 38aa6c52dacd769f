"""Assemble the phone app as a static site: page, onnxruntime-web, the model, examples, service worker.

`pocketecg serve` builds it into a temporary folder and serves it; `pocketecg serve --write-site DIR`
writes it for any static HTTPS host. Everything the page needs is in the folder, so after the first
visit the service worker can answer every request offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

WEB_DIR = Path(__file__).with_name("web")
VENDOR_DIR = WEB_DIR / "vendor"
FILES_JSON = "files.json"
# onnxruntime-web's WASM-only ES module (loader bundled in) and its SIMD runtime, dicom-parser and libFLAC's
# WASM build (WFDB format 508/516/524 records); copied from npm by `make web`
VENDOR_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm", "dicomParser.min.js", "flac-decoder.min.js")
PAGE_FILES = ("index.html", "app.js", "style.css", "ecg-parsers.js", "preprocess.js", "onnx-metadata.js",
              "ecg-view.js", "report.js", "manifest.webmanifest")
MODEL_NAME = "model.onnx"
ICON_SIZES = (192, 512)


class SiteError(ValueError):
    """The site cannot be built (missing runtime or model); the message says how to fix it."""


def vendor_missing() -> list[str]:
    return [name for name in VENDOR_FILES if not (VENDOR_DIR / name).is_file()]


def resolve_model(model: str | Path | None) -> Path:
    """The ONNX file the page runs: the shipped fp32 model (checked) or a given .onnx / run directory.

    fp32, not int8, by default: the int8 model's quantisation steps (0.17 in logit) flip on input
    differences of 1e-7 and between onnxruntime's native and WASM kernels, so its probabilities on the
    phone could differ from Python's by 1e-2; fp32 agrees to 1e-6 and is 2.8 MB, cached once.
    """
    from pocketecg.inference import SHIPPED_DIR, verify_shipped

    if model is None:
        verify_shipped()
        return SHIPPED_DIR / "model.onnx"
    model = Path(model)
    if model.is_dir():
        for name in ("model.onnx", "model-int8.onnx"):
            if (model / name).is_file():
                return model / name
        raise SiteError(f"{model}: no exported model in this run; run "
                        f"`pocketecg export {model} --format onnx --out {model}/model.onnx` first")
    if model.suffix.lower() != ".onnx" or not model.is_file():
        raise SiteError(f"{model}: the app needs an .onnx file (see `pocketecg export`) or a run directory")
    return model


def icon_png(size: int) -> bytes:
    """The app icon: a white ECG complex on the project's red, drawn here so no binary lives in git."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (size, size), (178, 34, 52, 255))
    s = size / 100
    trace = [(10, 58), (30, 58), (36, 52), (42, 58), (47, 58), (51, 66), (56, 20), (61, 76), (65, 58), (75, 58),
             (81, 50), (87, 58), (90, 58)]
    ImageDraw.Draw(img).line([(x * s, y * s) for x, y in trace], fill="white", width=max(2, round(5 * s)),
                             joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_examples(folder: Path, real: Path | None = None) -> list[dict]:
    """The page's examples and their index: the real PTB-XL records of examples.json when `real` holds
    them all (checked against their SHA-256), else the demo's synthetic records (one per class)."""
    from pocketecg.app.examples import load_manifest, missing_examples
    from pocketecg.demo import synthetic_examples

    folder.mkdir(parents=True, exist_ok=True)
    index = []
    if real is not None and real.is_dir() and not missing_examples(real):
        manifest = load_manifest()
        for e in manifest["examples"]:
            for f in e["files"]:
                shutil.copyfile(real / f["name"], folder / f["name"])
            index.append({"title": f"PTB-XL {e['id']}: {e['shows']}", "files": [f["name"] for f in e["files"]],
                          "real": True, "findings": e["findings"], "cardiologists": e["cardiologists"],
                          "credit": manifest["source"]["credit"]})
    else:
        for header, title in synthetic_examples(folder):
            index.append({"title": title, "files": [header.name, header.with_suffix(".dat").name], "real": False})
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return index


def build_site(out: str | Path, model: str | Path | None = None, examples: str | Path | None = None) -> Path:
    """Write the complete app into `out` (created or refreshed) and return it. `examples`: the folder
    `pocketecg examples` downloaded into (default: where `make examples` puts them)."""
    from pocketecg.app.examples import DEFAULT_DIR

    missing = vendor_missing()
    if missing:
        raise SiteError(f"the page's runtime (onnxruntime-web, dicom-parser) is not installed in {VENDOR_DIR} "
                        f"({', '.join(missing)} missing); run `make web` (it needs npm)")
    model_path = resolve_model(model)
    from pocketecg.export import read_metadata

    # a file without classes/thresholds/preprocessing/band-pass is refused here, not on the phone
    if "bandpass_sos" not in read_metadata(model_path):
        raise SiteError(f"{model_path}: no band-pass sections in its metadata; re-export it with `pocketecg export`")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(WEB_DIR / name, out / name)
    (out / "vendor").mkdir(exist_ok=True)
    for name in VENDOR_FILES:
        shutil.copyfile(VENDOR_DIR / name, out / "vendor" / name)
    shutil.copyfile(model_path, out / MODEL_NAME)
    (out / "icons").mkdir(exist_ok=True)
    for size in ICON_SIZES:
        (out / "icons" / f"icon-{size}.png").write_bytes(icon_png(size))
    examples_dir = out / "examples"
    if examples_dir.is_dir():
        shutil.rmtree(examples_dir)  # a rebuild with other examples must not keep the old ones
    examples = write_examples(examples_dir, Path(examples) if examples is not None else DEFAULT_DIR)

    precache = ["./", *PAGE_FILES, *(f"vendor/{n}" for n in VENDOR_FILES), MODEL_NAME,
                *(f"icons/icon-{s}.png" for s in ICON_SIZES), "examples/index.json",
                *(f"examples/{f}" for e in examples for f in e["files"])]
    # the page's progress bar needs each file's size as stored: sent compressed, Content-Length is not it
    (out / FILES_JSON).write_text(json.dumps({rel: (out / rel).stat().st_size for rel in precache[1:]}) + "\n")
    precache.append(FILES_JSON)
    digest = hashlib.sha256()
    for rel in precache[1:]:
        digest.update(rel.encode() + (out / rel).read_bytes())
    # a new version (any changed file) gets a new cache; the service worker then drops the old one
    worker = (WEB_DIR / "sw.js").read_text().replace("__VERSION__", digest.hexdigest()[:16])
    (out / "sw.js").write_text(worker.replace("__PRECACHE__", json.dumps(precache)))
    write_compressed_copies(out, [rel for rel in precache[1:] if rel.endswith(COMPRESSIBLE)])
    return out


# Served as `NAME.br` (Content-Encoding: br) or `NAME.gz` (gzip) to clients that accept it (`pocketecg
# serve`; nginx `brotli_static`/`gzip_static`; most static hosts), compressed once at build time: the
# 14.2 MB WASM runtime goes over the wire as 2.4 MB (brotli 11) or 3.7 MB (gzip 9).
COMPRESSIBLE = (".wasm", ".mjs", ".js", ".onnx", ".json", ".css", ".html", ".webmanifest", ".dat", ".hea")
PRECOMPRESS_MIN_BYTES = 8 * 1024


# brotli 11 takes ~25-50 s for the 14 MB runtime on these machines (gzip 9: 1.6 s): big files are compressed
# once per content and kept here, next to the runtime they come from (`make web` fills it; `make clean` drops it)
BROTLI_CACHE = VENDOR_DIR / ".brotli"
BROTLI_CACHE_MIN_BYTES = 1024 * 1024


def brotli_bytes(data: bytes) -> bytes:
    import brotli

    if len(data) < BROTLI_CACHE_MIN_BYTES:
        return brotli.compress(data, quality=11)
    cached = BROTLI_CACHE / f"{hashlib.sha256(data).hexdigest()}.br"
    if cached.is_file():
        return cached.read_bytes()
    compressed = brotli.compress(data, quality=11)
    BROTLI_CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.part")  # two builds at once never read half a file
    partial.write_bytes(compressed)
    partial.replace(cached)
    return compressed


def precompress_vendor() -> None:
    """Fill the brotli cache for the runtime, so the first `build_site` (and the first test) does not wait."""
    for name in VENDOR_FILES:
        brotli_bytes((VENDOR_DIR / name).read_bytes())


def write_compressed_copies(out: Path, files: list[str]) -> None:
    import gzip

    for rel in files:
        data = (out / rel).read_bytes()
        if len(data) >= PRECOMPRESS_MIN_BYTES:
            (out / f"{rel}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
            (out / f"{rel}.br").write_bytes(brotli_bytes(data))
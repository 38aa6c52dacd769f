"""`pocketecg demo`: the shipped model on example ECGs -> an HTML report with findings and explanations.

Without data the examples are synthesised by `pocketecg.synth` (one per class, marked synthetic);
with `--data DIR` the first labelled real record of each class found there is used instead.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import wfdb

from pocketecg import labels as L
from pocketecg.data.record import STANDARD_LEADS
from pocketecg.data.scan import ReadOptions, read_record, scan
from pocketecg.explain import explain_record
from pocketecg.predict import Prediction, Predictor
from pocketecg.preprocess import apply
from pocketecg.synth import FINDINGS, synth_ecg


def synthetic_examples(folder: Path, seed: int = 0) -> list[tuple[Path, str]]:
    """One 10-s, 500-Hz WFDB record per class (files a user can also open in the app)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, finding in enumerate(FINDINGS):
        x = synth_ecg(finding, seconds=10, fs=500, seed=seed + i).astype(np.float64)
        name = f"synthetic_{finding.lower()}"
        wfdb.wrsamp(name, fs=500, units=["mV"] * 12, sig_name=list(STANDARD_LEADS), p_signal=x.T, fmt=["16"] * 12,
                    adc_gain=[1000] * 12, baseline=[0] * 12, write_dir=str(folder),
                    comments=[f"synthetic: pocketecg.synth {finding}, seed {seed + i}; not a real ECG"])
        out.append((folder / f"{name}.hea", f"{finding} (synthetic)"))
    return out


def real_examples(data: Path, classes: tuple[str, ...]) -> list[tuple[Path, str]]:
    """The first record (by path) carrying each class and no other class of the preset."""
    picked: dict[str, tuple[Path, str]] = {}
    for entry in sorted(scan([data]).entries, key=lambda e: e.key):
        labels = set(entry.labels or ()) & set(classes)
        if len(labels) == 1:
            (c,) = labels
            picked.setdefault(c, (Path(entry.path), f"{c} ({entry.source})"))
    return [picked[c] for c in classes if c in picked]


def run_demo(out: str | Path, data: str | Path | None = None, predictor: Predictor | None = None,
             log=print) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    predictor = predictor or Predictor.shipped()
    examples = real_examples(Path(data), predictor.classes) if data else synthetic_examples(out / "examples")
    if not examples:
        raise ValueError(f"{data}: no labelled records of the classes {', '.join(predictor.classes)} found")
    rows = []
    for path, truth in examples:
        record = read_record(path, ReadOptions())
        prepared = apply(record, predictor.settings)  # one preprocessing for the prediction and its explanation
        result = predictor.predict_record(record, str(path), prepared)
        png = out / "explanations" / f"{record.record_id}.png"
        explain_record(predictor.torch_model, record, predictor.settings, predictor.classes, result.labels,
                       result.probabilities, png, title=f"{record.record_id} - {truth}", prepared=prepared)
        rows.append((path, truth, result, png))
        log(f"{path.name}: expected {truth}; found {', '.join(result.labels) or 'none'}")
    report = out / "report.html"
    report.write_text(render_report(rows, predictor, synthetic=data is None))
    return report


def render_report(rows: list[tuple[Path, str, Prediction, Path]], predictor: Predictor, synthetic: bool) -> str:
    head = "".join(f"<th>{c}</th>" for c in predictor.classes)
    body = []
    for path, truth, r, _png in rows:
        cells = "".join(
            f'<td class="{"hit" if c in r.labels else ""}">{r.probabilities[c]:.2f}<small> / {r.thresholds[c]:.2f}</small></td>'
            for c in predictor.classes)
        warnings = "<br>".join(html.escape(w) for w in r.warnings)
        body.append(f"<tr><td>{html.escape(path.name)}</td><td>{html.escape(truth)}</td>"
                    f"<td><b>{html.escape(', '.join(r.labels) or 'none')}</b></td>{cells}<td>{warnings}</td></tr>")
    figures = "".join(f'<figure><img src="{png.relative_to(png.parent.parent).as_posix()}" alt="{html.escape(path.name)}">'
                      f"<figcaption>{html.escape(path.name)}: expected {html.escape(truth)}, found "
                      f"{html.escape(', '.join(r.labels) or 'none')}</figcaption></figure>" for path, truth, r, png in rows)
    note = ("<p class=warn><b>These examples are synthetic</b> (pocketecg's own Gaussian-wave beat model), not "
            "recordings of patients; the model was trained on real ECGs and may misread them. Run "
            "<code>pocketecg demo --data DIR</code> for real records.</p>" if synthetic else
            "<p class=warn>Real records, picked as the first of each class in the folder. If the folder is the "
            "corpus the model was trained on, some of them were training records: this page shows how the tool "
            "works, not how well (held-out test scores: docs/results.md).</p>")
    legend = (", ".join(f"{c}: {L.CLASS_DESCRIPTIONS[c]}" for c in predictor.classes) + ". "
              + L.not_assessed_sentence(predictor.classes).rstrip("."))
    return f"""<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>pocketecg demo</title><style>body{{font-family:system-ui,sans-serif;margin:1.5em;max-width:1200px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}td.hit{{background:#ffe0b0;font-weight:bold}}
small{{color:#777}}img{{max-width:100%;border:1px solid #ddd}}.warn{{background:#fff4d6;padding:.6em}}</style></head><body>
<h1>pocketecg demo</h1>
<p><b>Research software, not a medical device.</b> Model: {html.escape(predictor.description)}.</p>{note}
<p>Each cell: probability / the class's threshold (chosen on the validation split); highlighted when it is a finding.
{html.escape(legend)}.</p>
<table><thead><tr><th>record</th><th>expected</th><th>findings</th>{head}<th>warnings</th></tr></thead>
<tbody>{''.join(body)}</tbody></table><h2>Explanations</h2>
<p>Shaded: where the model looked for each finding (Grad-CAM on the last residual stage).</p>{figures}</body></html>"""

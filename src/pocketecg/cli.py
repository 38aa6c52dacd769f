"""`pocketecg` command line: each command is a few lines that call the library."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pocketecg import labels as L

app = typer.Typer(help="pocketecg: a small, fast, honest 12-lead ECG classifier.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
data_app = typer.Typer(help="Inspect ECG data folders.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)

DataOpt = Annotated[list[Path], typer.Option("--data", help="A data folder (repeat for several).")]


class UserError(Exception):
    """An error the user can fix; printed as one line, exit code 2."""


def user_errors(func):
    """Bad files and bad arguments end as one readable line and exit code 2, never a traceback."""
    from pocketecg.cache import CacheError
    from pocketecg.data.record import RecordError
    from pocketecg.download import DownloadError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (RecordError, CacheError, DownloadError, UserError, ValueError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # a read-only folder, a full disk, a path that vanished
            where = exc.filename or "a file"
            err.print(f"[red]error:[/red] {where}: {exc.strerror or exc} (check the folder exists, is writable "
                      "and the disk has space)", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


@data_app.command("check")
@user_errors
def data_check(data: DataOpt,
               fs: Annotated[float | None, typer.Option(help="Sampling rate for .npy/CSV files without one.")] = None,
               units: Annotated[str, typer.Option(help="Units of .npy/CSV samples: uV, mV or V.")] = "mV",
               allow_missing_leads: Annotated[bool, typer.Option(help="Zero-fill missing leads instead of failing.")] = False,
               as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False):
    """Scan folders, detect formats, count records per source and class, list every failure."""
    from pocketecg.data.scan import ReadOptions, find_candidates, scan

    options = ReadOptions(fs=fs, units=units, allow_missing_leads=allow_missing_leads)
    candidates = find_candidates(data)
    with _progress() as bar:
        task = bar.add_task("reading", total=len(candidates))
        result = scan(data, options, progress=lambda: bar.advance(task), candidates=candidates)
    per_source: dict[str, Counter] = {}
    for e in result.entries:
        counts = per_source.setdefault(e.source, Counter())
        counts["records"] += 1
        counts["unlabelled"] += e.labels is None
        counts.update(e.labels or ())
    if as_json:
        print(json.dumps({"per_source": per_source, "records_read": len(result.entries), "records": result.total,
                          "failures": [{"path": p, "problem": m} for p, m in result.failures]}, indent=2))
    else:
        table = Table("source", "records", "unlabelled", *L.CLASSES, title="records and classes per source")
        total = Counter()
        for source in sorted(per_source):
            c = per_source[source]
            total.update(c)
            table.add_row(source, *(str(c[k]) for k in ("records", "unlabelled", *L.CLASSES)))
        table.add_row("total", *(str(total[k]) for k in ("records", "unlabelled", *L.CLASSES)), style="bold")
        console.print(table)
        warned = [e for e in result.entries if e.warnings]
        if warned:
            console.print(f"{len(warned)} record(s) read with warnings:")
            for e in warned:
                console.print(f"  {e.path}: {'; '.join(e.warnings)}", highlight=False)
        for path, problem in result.failures:
            console.print(f"[red]not read[/red] {path}: {problem}", highlight=False)
        print(f"records read: {len(result.entries)} of {result.total}")
    if result.total == 0:
        raise UserError(f"no ECG records found in {', '.join(map(str, data))}")


@app.command()
@user_errors
def prepare(data: DataOpt,
            out: Annotated[Path, typer.Option(help="Cache folder to write.")],
            fs: Annotated[int, typer.Option(help="Sampling rate of the cache (Hz): 250 or 500.")] = 250,
            seconds: Annotated[float, typer.Option(help="Window length in seconds.")] = 10.0,
            stride: Annotated[float | None, typer.Option(help="Seconds between windows (default: window length).")] = None,
            band: Annotated[tuple[float, float], typer.Option(help="Band-pass edges in Hz.")] = (0.5, 40.0),
            seed: Annotated[int, typer.Option(help="Seed of the stratified split.")] = 0,
            workers: Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")] = None):
    """Read, resample, band-pass, normalise and window every record once into a memory-mapped cache."""
    from pocketecg.cache import PreparedCache, PreparedDataset, measure_read_rate
    from pocketecg.cache import prepare as run_prepare
    from pocketecg.data.scan import find_candidates
    from pocketecg.preprocess import PreprocessSettings

    settings = PreprocessSettings(fs=fs, window_seconds=seconds, stride_seconds=stride or seconds, band_hz=band)
    candidates = find_candidates(data)
    with _progress() as bar:
        task = bar.add_task("preparing", total=len(candidates))
        report = run_prepare(data, out, settings, seed=seed, workers=workers, progress=lambda: bar.advance(task),
                             candidates=candidates)
    for path, problem in report.failures:
        console.print(f"[red]not read[/red] {path}: {problem}", highlight=False)
    splits = ", ".join(f"{k} {report.split_records.get(k, 0)}" for k in ("train", "val", "test"))
    print(f"prepared {report.records} records ({report.windows} windows; {splits}) in {report.seconds:.1f} s -> {out}")
    train = PreparedDataset(PreparedCache(out), "train")
    rate = measure_read_rate(train)
    per_record = report.windows / max(report.records, 1)
    print(f"cache read rate: {rate:,.0f} windows/s = {rate / per_record:,.0f} records/s (random training batches of 32)")


@app.command()
@user_errors
def download(dataset: Annotated[str, typer.Argument(help="cpsc2018 or ptbxl")],
             dest: Annotated[Path, typer.Option(help="Folder to download and extract into.")],
             mirror: Annotated[str | None, typer.Option(help="Base URL serving the same file names.")] = None,
             keep_archives: Annotated[bool, typer.Option(help="Keep the archives after extraction.")] = True):
    """Download an official archive (resumable), check size and checksum, and extract it."""
    from pocketecg.download import download_dataset

    folder = download_dataset(dataset, dest, mirror=mirror, keep_archives=keep_archives, log=console.print)
    print(f"{dataset} ready in {folder}; next: pocketecg data check --data {folder}")


@app.command()
@user_errors
def examples(dest: Annotated[Path | None, typer.Option(help="Folder to put them in (default: where `pocketecg "
                                                       "serve` looks, inside the package).")] = None,
             mirror: Annotated[str | None, typer.Option(help="Base URL laid out like PTB-XL on PhysioNet "
                                                        "(records500/00000/...).")] = None):
    """Download the phone page's real example records (PTB-XL, CC BY 4.0), each checked by SHA-256."""
    from pocketecg.app.examples import DEFAULT_DIR, download_examples

    folder = download_examples(dest or DEFAULT_DIR, mirror=mirror, log=console.print)
    print(f"examples ready in {folder}; `pocketecg serve{'' if dest is None else f' --examples {folder}'}` offers them")


@app.command()
@user_errors
def train(model: Annotated[str, typer.Option(help="Model name (see `pocketecg models`).")] = "lite",
          classes: Annotated[str, typer.Option(help="Label preset: six or cpsc9.")] = "six",
          cache: Annotated[Path, typer.Option(help="Prepared cache folder.")] = Path("cache/shared"),
          out: Annotated[Path | None, typer.Option(help="Run directory (default runs/MODEL).")] = None,
          epochs: Annotated[int, typer.Option(help="Most epochs to run.")] = 40,
          batch_size: Annotated[int, typer.Option(help="Batch size per process.")] = 32,
          lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW).")] = 3e-3,
          loss: Annotated[str, typer.Option(help="bce, bce_weighted or focal.")] = "bce",
          augment: Annotated[str, typer.Option(help="Comma-separated augmentations, or 'none'.")] =
          "scale,noise,wander,crop,lead_dropout",
          patience: Annotated[int, typer.Option(help="Stop after this many epochs without a better val macro-F1.")] = 10,
          seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
          fold_seed: Annotated[int | None, typer.Option(help="With --crossfit: draw the folds with this seed "
                                                  "instead of --seed, so runs with other --seed values share "
                                                  "the folds (and a teacher) and pair record by record.")] = None,
          device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
          num_workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = 0,
          model_kwargs: Annotated[str, typer.Option(help="JSON of extra model arguments.")] = "{}",
          resume: Annotated[bool, typer.Option(help="Continue a killed run from its last checkpoint (a cross-fit "
                                              "run: from its finished folds).")] = False,
          overwrite: Annotated[bool, typer.Option(help="Replace a run already in --out (its metrics and plots "
                                                 "go too).")] = False,
          crossfit: Annotated[int, typer.Option(help="K-fold cross-fitting over train+val: thresholds from "
                                                "out-of-fold predictions, final model on all of train+val for "
                                                "the median best epoch. 0: the plain train/val protocol.")] = 0,
          final: Annotated[bool, typer.Option(help="With --crossfit: also train the final model. --no-final "
                                             "stops at the out-of-fold predictions (enough for a teacher).")] = True,
          folds: Annotated[str, typer.Option(help="With --crossfit K --no-final: train only these folds "
                                             "(comma-separated, 0..K-1), for a model too costly for all K; its "
                                             "out-of-fold predictions cover those folds' records.")] = "",
          teacher: Annotated[list[Path] | None, typer.Option(help="Distil from this cross-fitted run (same cache, "
                                                      "K and fold seed; needs --crossfit): fold i learns from the "
                                                      "teacher's fold-i model, the final model from all of them. "
                                                      "Repeat for an ensemble (mean logit of the teachers).")] = None,
          distill_alpha: Annotated[float, typer.Option(help="Weight of the teacher's soft targets in the loss "
                                                       "(0-1].")] = 0.5,
          distill_temperature: Annotated[float, typer.Option(help="Distillation temperature.")] = 2.0,
          ema_decay: Annotated[float, typer.Option(help="Keep an exponential moving average of the weights with "
                                                   "this decay per step and score/save it (0: off).")] = 0.0,
          label_smoothing: Annotated[float, typer.Option(help="Smooth the hard targets: y -> y(1-e) + e/2 "
                                                         "(0: off).")] = 0.0,
          mixup: Annotated[float, typer.Option(help="Mixup: blend pairs of training windows with a Beta(a, a) "
                                               "weight, and their losses alike (a; 0: off).")] = 0.0):
    """Train a model; epochs and thresholds are chosen on validation data only (never the test split)."""
    from pocketecg.train import TrainConfig
    from pocketecg.train import train as run_train

    config = TrainConfig(cache=str(cache), out=str(out or Path("runs") / model), model=model, classes=classes,
                         epochs=epochs, batch_size=batch_size, lr=lr, loss=loss, patience=patience, seed=seed,
                         fold_seed=fold_seed,
                         augment=tuple(a for a in augment.split(",") if a and a != "none"), device=device,
                         num_workers=num_workers, model_kwargs=json.loads(model_kwargs),
                         teachers=tuple(str(t) for t in teacher or ()), distill_alpha=distill_alpha,
                         distill_temperature=distill_temperature, ema_decay=ema_decay,
                         label_smoothing=label_smoothing, mixup=mixup)
    if folds and not crossfit:
        raise typer.BadParameter("needs --crossfit K", param_hint="--folds")
    if fold_seed is not None and not crossfit:
        raise typer.BadParameter("needs --crossfit K", param_hint="--fold-seed")
    fold_subset = _fold_list(folds, crossfit, final) if folds else None
    log = lambda m: console.print(m, highlight=False)  # noqa: E731
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only one process checks (and may clear) --out
        _claim_run_directory(Path(config.out), resume, overwrite)
    if crossfit:
        from pocketecg.crossfit import crossfit as run_crossfit

        run_crossfit(config, crossfit, log=log, resume=resume, final=final, folds=fold_subset)
    else:
        run_train(config, resume=resume, log=log)


RUN_MARKERS = ("config.json", "checkpoint.pt", "history.csv", "folds")


def _fold_list(text: str, k: int, final: bool) -> tuple[int, ...]:
    """--folds checked before the run directory is claimed (the checks are crossfit's own)."""
    from pocketecg.crossfit import fold_subset

    try:
        folds = [int(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated fold numbers, got {text!r}", param_hint="--folds")
    try:
        return fold_subset(folds, k, final)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--folds")


def _claim_run_directory(out: Path, resume: bool, overwrite: bool) -> None:
    """A finished or started run is never trained over by accident: --resume continues, --overwrite replaces."""
    import shutil

    if resume and overwrite:
        raise UserError("--resume and --overwrite contradict each other; choose one")
    if not out.is_dir() or not any(out.iterdir()):
        return
    is_run = any((out / marker).exists() for marker in RUN_MARKERS)
    if not is_run:
        raise UserError(f"{out}: exists and is not a run directory; choose another --out")
    if overwrite:
        shutil.rmtree(out)  # old metrics, plots, predictions and checkpoints must not outlive the new weights
    elif not resume:
        state = "finished" if (out / "config.json").is_file() else "started"
        raise UserError(f"{out}: already holds a {state} run; add --resume to continue it or --overwrite to replace it")


@app.command()
@user_errors
def evaluate(run: Annotated[Path | None, typer.Argument(help="Run directory written by `pocketecg train`.")] = None,
             split: Annotated[str, typer.Option(help="test or val.")] = "test",
             cache: Annotated[Path | None, typer.Option(help="Cache folder (default: the one it was trained on).")] = None,
             data: Annotated[list[str] | None, typer.Option("--data", help="Score on this labelled folder (or files, or "
                                                            "a glob) instead of a cache split; repeatable.")] = None,
             model: Annotated[str, typer.Option(help="With --data: shipped, a run directory or an .onnx file.")] =
             "shipped",
             csv_out: Annotated[Path | None, typer.Option("--csv", help="With --data: one row per record.")] = None,
             out: Annotated[Path | None, typer.Option(help="With --data: folder for metrics.json and plots.")] = None,
             bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the 95 % intervals.")] = 1000,
             reference: Annotated[list[Path] | None, typer.Option(help="With --data: a CPSC 2018 REFERENCE.csv "
                                                                  "giving the label order for the challenge score "
                                                                  "(one under the folders is found by itself); "
                                                                  "repeatable.")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False):
    """Per-class F1/precision/recall/AUROC/AUPRC, macro-F1 with 95 % CIs, plots.

    `evaluate RUN` scores a run on a split of its cache (writes metrics.json into the run);
    `evaluate --data DIR [--model shipped|RUN|x.onnx]` scores any model on any labelled folder.
    """
    if data:
        from pocketecg.data.scan import candidates_for
        from pocketecg.evaluate import evaluate_folders

        if run is not None:
            model = str(run)
        total = len(candidates_for(data)[0])
        with _progress() as bar:
            task = bar.add_task("scoring", total=total)
            result = evaluate_folders(data, model, csv_out, out, bootstrap, progress=lambda: bar.advance(task),
                                      references=reference or [])
        if as_json:
            print(json.dumps(result, indent=2))
            return
        _print_folder_scores(result)
        return
    if run is None:
        raise UserError("give a run directory, or --data FOLDER to score a model on a labelled folder")
    from pocketecg.evaluate import evaluate_run

    result = evaluate_run(run, split, cache, bootstrap)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    ci = result["ci95"]
    table = Table("class", "n", "F1", "95 % CI", "precision", "recall", "AUROC", "AUPRC", "threshold",
                  title=f"{result['model']} on {split} ({result['records']} records)")
    for j, c in enumerate(result["classes"]):
        s = result["per_class"][c]
        lo, hi = ci["f1"][j] if ci else (float("nan"), float("nan"))
        table.add_row(c, str(s["positives"]), f"{s['f1']:.3f}", f"{lo:.2f}-{hi:.2f}", f"{s['precision']:.3f}",
                      f"{s['recall']:.3f}", f"{s['auroc']:.3f}", f"{s['auprc']:.3f}", f"{s['threshold']:.2f}")
    console.print(table)
    lo, hi = ci["macro_f1"] if ci else (float("nan"), float("nan"))
    print(f"macro-F1 {result['macro_f1']:.4f} (95 % CI {lo:.3f}-{hi:.3f}), macro-AUROC {result['macro_auroc']:.4f}")
    _print_cpsc2018(result)


def _print_cpsc2018(result: dict) -> None:
    if "cpsc2018" not in result:
        return
    s = result["cpsc2018"]
    scores = ", ".join(f"{k} {_fmt(s[k])}" for k in ("F_AF", "F_Block", "F_PC", "F_ST") if k in s)
    print(f"CPSC 2018 challenge score on {s['records']} records with REFERENCE.csv label order: F1 {_fmt(s['F1'])} "
          f"({scores}; one answer per record, a wrong one counted against the first label)")


def _fmt(v, spec=".3f") -> str:
    return format(v, spec) if isinstance(v, float | int) and not isinstance(v, bool) else "n/a"


def _print_folder_scores(result: dict) -> None:
    ci = result.get("ci95") or {}
    table = Table("class", "n", "F1", "95 % CI", "precision", "recall", "AUROC", "AUPRC", "threshold",
                  title=f"{result['model']} on {', '.join(result['data'])} ({result['records']} records)")
    for c in result["classes"]:
        s = result["per_class"][c]
        lo_hi = ci.get("f1", {}).get(c)
        table.add_row(c, str(s["positives"]), _fmt(s["f1"]), f"{_fmt(lo_hi[0], '.2f')}-{_fmt(lo_hi[1], '.2f')}"
                      if lo_hi else "n/a", _fmt(s["precision"]), _fmt(s["recall"]), _fmt(s["auroc"]),
                      _fmt(s["auprc"]), f"{s['threshold']:.2f}")
    console.print(table)
    lo, hi = ci.get("macro_f1", (None, None))
    print(f"macro-F1 {_fmt(result['macro_f1'], '.4f')} (95 % CI {_fmt(lo)}-{_fmt(hi)}) over "
          f"{', '.join(result['classes_scored'])}; macro-AUROC {_fmt(result['macro_auroc'], '.4f')}")
    _print_cpsc2018(result)
    for note in result["notes"]:
        print(f"note: {note}")
    per_source = Table("source", "records", "macro-F1", *result["classes"], title="F1 per source")
    for source, s in result["per_source"].items():
        per_source.add_row(source, str(s["records"]), _fmt(s["macro_f1"]),
                           *(_fmt(s["per_class"][c]["f1"], ".2f") for c in result["classes"]))
    console.print(per_source)
    print(f"{result['files']} files: {result['records']} recordings scored, {result['unlabelled_skipped']} unlabelled, "
          f"{result['duplicate_copies_skipped']} duplicate copies, {len(result['failures'])} unreadable")
    for f in result["failures"]:
        console.print(f"[red]not read[/red] {f['path']}: {f['problem']}", highlight=False)


@app.command()
@user_errors
def compare(models: Annotated[str, typer.Option(help="Comma-separated model names.")] =
            "lite,resnet1d18,seresnet18,alexnet1d,squeezenet1d",
            classes: Annotated[str, typer.Option(help="Label preset: six or cpsc9.")] = "six",
            cache: Annotated[Path, typer.Option(help="Prepared cache folder.")] = Path("cache/shared"),
            out: Annotated[Path, typer.Option(help="Report folder.")] = Path("reports/compare"),
            runs: Annotated[Path | None, typer.Option(help="Where runs live (default runs/compare-CLASSES).")] = None,
            epochs: Annotated[int, typer.Option(help="Most epochs per model.")] = 40,
            patience: Annotated[int, typer.Option(help="Early-stopping patience (epochs).")] = 10,
            seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
            bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the CIs.")] = 1000):
    """Train (or reuse) every model on the same split, score all on the same test records, one report."""
    from pocketecg.compare import compare as run_compare
    from pocketecg.train import TrainConfig

    names = [m.strip() for m in models.split(",") if m.strip()]
    base = TrainConfig(cache=str(cache), out="", classes=classes, epochs=epochs, patience=patience, seed=seed)
    command = "pocketecg " + " ".join(sys.argv[1:])
    report = run_compare(names, classes, cache, out, runs, base, bootstrap, command,
                         log=lambda m: console.print(m, highlight=False))
    for name, r in report["models"].items():
        print(f"{name:14s} macro-F1 {r['macro_f1']:.3f}  params {r['params'] / 1e6:.2f} M  "
              f"onnx {r['latency_ms_onnx']:.2f} ms  int8 {r['size_int8_bytes'] / 1e6:.2f} MB")
    print(f"report: {out / 'report.md'}, {out / 'report.html'}, {out / 'results.json'}")


@app.command()
@user_errors
def export(run: Annotated[str, typer.Argument(help="A run directory written by `pocketecg train`, or 'shipped' "
                                             "for the model shipped with pocketecg.")],
           out: Annotated[Path, typer.Option(help="ONNX file to write.")],
           format: Annotated[str, typer.Option("--format", help="onnx (fp32), onnx-int8, or onnx-fp16 (fp32 "
                                                "compute, weights stored as float16: half the file).")] = "onnx",
           cache: Annotated[Path | None, typer.Option(help="The prepared cache the run was trained on, if it has "
                                                      "moved (parity is measured on its validation split).")] = None,
           data: Annotated[list[Path] | None, typer.Option(help="ECG folder(s), labels not needed: parity is "
                                                           "measured on their records and int8 is calibrated on "
                                                           "part of them. Repeatable.")] = None):
    """Export one self-contained ONNX file (dynamic batch and length, metadata inside) and check parity.

    fp32 needs no data (without --cache or --data, parity is checked on synthetic ECGs); int8 is
    calibrated on real ECG windows, so it needs --cache or --data.
    """
    from pocketecg.export import export_run
    from pocketecg.inference import SHIPPED_DIR, verify_shipped

    if run == "shipped":
        verify_shipped()
        run = SHIPPED_DIR
    report = export_run(run, out, format, cache=cache, data=data or None)
    print(f"wrote {report['file']} ({report['size_bytes'] / 1e6:.2f} MB)")
    print(f"parity on {report['parity_windows']} windows ({report['parity_on']}): max |torch - onnx fp32| "
          f"{report['max_abs_diff_fp32']:.2e}")
    if format in ("onnx-int8", "onnx-fp16"):
        kind = format.removeprefix("onnx-")
        how = f"calibrated on {report['calibration_windows']} other windows" if kind == "int8" else "float16 weights"
        print(f"{kind} ({how}): max |logit difference| {report[f'max_abs_diff_{kind}_logits']:.2e}, max |probability "
              f"difference| {report['max_abs_diff_probabilities']:.2e}; label agreement with torch "
              f"{report['label_agreement']:.2%} (class decisions), {report['record_agreement']:.2%} (whole records)")
        if report["label_agreement"] < 0.99:
            raise UserError(f"{kind} label agreement {report['label_agreement']:.2%} is below 99 %; use --format onnx")


@app.command()
@user_errors
def predict(files: Annotated[list[str], typer.Argument(help="ECG files, folders (searched recursively) or globs "
                                                      "('data/**/*.hea'): WFDB, CPSC .mat, CSV, .npy, GE MUSE / HL7 "
                                                      "aECG / Philips Sierra XML, SCP-ECG, DICOM, EDF.")],
            model: Annotated[Path | None, typer.Option(help="A run directory or an exported .onnx file "
                                                       "(default: the model shipped with pocketecg).")] = None,
            as_json: Annotated[bool, typer.Option("--json", help="One JSON object per record per line.")] = False,
            csv_path: Annotated[Path | None, typer.Option("--csv", help="Also write one row per record: findings, "
                                                          "every probability, warnings.")] = None,
            explain: Annotated[Path | None, typer.Option(help="Write a PNG per record: 12 leads on ECG paper with "
                                                         "a saliency overlay for each finding.")] = None,
            fs: Annotated[float | None, typer.Option(help="Sampling rate for .npy/CSV files without one.")] = None,
            units: Annotated[str, typer.Option(help="Units of .npy/CSV samples: uV, mV or V.")] = "mV",
            allow_missing_leads: Annotated[bool, typer.Option(help="Zero-fill missing leads (flagged).")] = False):
    """Classify ECG records. Bad files are reported and skipped; the exit status is 1 if any failed."""
    import csv

    from pocketecg.data.record import RecordError
    from pocketecg.data.scan import ReadOptions, expand_inputs, read_record
    from pocketecg.explain import explain_record
    from pocketecg.predict import Predictor
    from pocketecg.preprocess import apply

    paths, problems = expand_inputs(files)
    for item, problem in problems:
        err.print(f"[red]skipped[/red] {item}: {problem}", highlight=False, soft_wrap=True)
    if not paths:
        raise UserError(f"no ECG records to classify in {', '.join(files)}")
    predictor = Predictor.from_path(model) if model else Predictor.shipped()
    if explain and predictor.torch_model is None:
        raise UserError("--explain needs gradients: give a run directory (or use the shipped model), not an .onnx file")
    options = ReadOptions(fs=fs, units=units, allow_missing_leads=allow_missing_leads)
    failed = len(problems)
    findings: Counter = Counter()
    rows = []
    with _progress() as bar:
        task = bar.add_task("classifying", total=len(paths))
        for path in paths:
            try:
                record = read_record(path, options)
                prepared = apply(record, predictor.settings)  # once, for the prediction and the explanation
                result = predictor.predict_record(record, str(path), prepared)
                if explain:
                    png = explain_record(predictor.torch_model, record, predictor.settings, predictor.classes,
                                         result.labels, result.probabilities,
                                         explain / f"{Path(path).stem}.png", title=str(path), prepared=prepared)
            except RecordError as exc:
                failed += 1
                err.print(f"[red]skipped[/red] {exc}", highlight=False, soft_wrap=True)
                continue
            except Exception as exc:  # one file's failure never stops the others; say what happened, no traceback
                failed += 1
                err.print(f"[red]skipped[/red] {path}: unexpected error ({exc.__class__.__name__}: {exc})",
                          highlight=False, soft_wrap=True)
                continue
            finally:
                bar.advance(task)
            findings.update(result.labels)
            rows.append([str(path), " ".join(result.labels) or "-", *(f"{result.probabilities[c]:.6f}"
                                                                       for c in predictor.classes),
                         "; ".join(result.warnings)])
            if as_json:
                d = result.to_dict()
                d.pop("window_probabilities")
                print(json.dumps(d), flush=True)
            else:
                console.print(f"[bold]{path}[/bold]: {result.summary()}", highlight=False)
                console.print("  " + "  ".join(f"{c} {p:.3f}/{result.thresholds[c]:.2f}"
                                               for c, p in result.probabilities.items()), highlight=False)
                console.print(f"  {result.seconds:g} s, {result.windows} window(s) at "
                              f"{', '.join(f'{s:g}' for s in result.window_starts_s)} s", highlight=False)
                for w in result.warnings:
                    console.print(f"  [yellow]warning:[/yellow] {w}", highlight=False)
                if explain:
                    console.print(f"  explanation: {png}", highlight=False)
    if csv_path is not None:
        with open(csv_path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["record", "findings", *[f"p_{c}" for c in predictor.classes], "warnings"])
            writer.writerows(rows)
    if not as_json and rows:
        console.print(L.not_assessed_sentence(predictor.classes), highlight=False, style="dim")
    per_class = ", ".join(f"{c} {findings[c]}" for c in predictor.classes)
    err.print(f"{len(rows)} record(s) classified ({per_class}; no finding {sum(1 for r in rows if r[1] == '-')}); "
              f"{failed} failed" + (f"; table: {csv_path}" if csv_path else ""), highlight=False)
    if failed:
        raise typer.Exit(1)


def _invocation() -> str:
    """How to run this pocketecg from here: the bare name when the shell finds this one, else its path."""
    import shutil
    import sys

    this = Path(sys.argv[0]).resolve() if sys.argv and Path(sys.argv[0]).name == "pocketecg" else \
        Path(sys.executable).with_name("pocketecg").resolve()
    found = shutil.which("pocketecg")
    if found and Path(found).resolve() == this:
        return "pocketecg"
    try:
        return str(this.relative_to(Path.cwd()))
    except ValueError:
        return str(this)


@app.command()
@user_errors
def demo(out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("reports/demo"),
         data: Annotated[Path | None, typer.Option(help="Use real records from this folder instead of synthetic ones.")] = None,
         model: Annotated[Path | None, typer.Option(help="A run directory (default: the shipped model).")] = None):
    """Run the model on example ECGs and write an HTML report with findings and explanations."""
    from pocketecg.demo import run_demo
    from pocketecg.predict import Predictor

    predictor = Predictor.from_run(model) if model else Predictor.shipped()
    report = run_demo(out, data, predictor, log=lambda m: console.print(m, highlight=False))
    print(f"report: {report.resolve()}")
    exe = _invocation()
    print(f"open it in a browser; classify your own files with: {exe} predict FILE|FOLDER ... [--explain DIR]")
    if exe != "pocketecg":
        print(f"(or put pocketecg on the PATH first: source {Path(exe).parent}/activate)")
    print(f"start the phone app with: make serve  (or: {exe} serve --host 0.0.0.0), then open "
          "http://127.0.0.1:8000/ here or http://<this machine's address>:8000/ on a phone (docs/app.md)")


@app.command()
@user_errors
def serve(host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 to reach it from a phone).")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 8000,
          model: Annotated[Path | None, typer.Option(help="An exported .onnx file or a run directory holding one "
                                                     "(default: the shipped fp32 model; an int8 one is smaller but its "
                                                     "probabilities differ from Python's by up to 1e-2).")] = None,
          certfile: Annotated[Path | None, typer.Option(help="TLS certificate: phones allow offline use and "
                                                        "'add to home screen' only over HTTPS (or on localhost).")] = None,
          keyfile: Annotated[Path | None, typer.Option(help="TLS private key for --certfile.")] = None,
          write_site: Annotated[Path | None, typer.Option(help="Write the app as a static site into this folder "
                                                          "(for any HTTPS host) and exit.")] = None,
          examples: Annotated[Path | None, typer.Option(help="Folder of the real examples (`pocketecg examples`); "
                                                        "default: the package's, else synthetic ones.")] = None,
          upload_timeout: Annotated[float, typer.Option(min=1, help="Seconds an upload to /api/predict may take "
                                                        "in all (then 408).")] = 120.0,
          upload_idle_timeout: Annotated[float, typer.Option(min=1, help="Seconds an upload may send nothing "
                                                             "before it is cut off (408).")] = 20.0):
    """Serve the phone app (classification runs in the browser) and POST /api/predict."""
    from pocketecg.app.site import build_site

    if write_site:
        site = build_site(write_site, model, examples)
        print(f"wrote the app to {site.resolve()}; serve that folder over HTTPS (POST /api/predict needs `pocketecg serve`)")
        return
    from pocketecg.app.server import serve as run_server

    scheme = "https" if certfile else "http"
    print(f"pocketecg app on {scheme}://{host}:{port}/  (API: POST /api/predict, docs /api/docs; Ctrl-C stops)")
    run_server(host, port, model, str(certfile) if certfile else None, str(keyfile) if keyfile else None,
               upload_seconds=upload_timeout, upload_idle_seconds=upload_idle_timeout, examples=examples)


@app.command()
@user_errors
def models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
           classes: Annotated[str, typer.Option(help="Label preset: six or cpsc9.")] = "six",
           fs: Annotated[int, typer.Option(help="Sampling rate for the 10-s input (Hz).")] = 250,
           latency: Annotated[bool, typer.Option(help="Also time every model side by side (CPU, 1 thread).")] = False):
    """Parameters, multiply-accumulates for one 10-s record, and fp32 size of every registered model."""
    import torch

    from pocketecg.models import create_model, list_models
    from pocketecg.models.profile import latency_ms, profile

    samples = 10 * fs
    rows = []
    x = torch.randn(1, 12, samples)
    torch.set_num_threads(1)
    for name in list_models():
        model = create_model(name, len(L.preset_classes(classes))).eval()
        row = profile(name, model, samples).to_dict()
        if latency:
            with torch.no_grad():
                row["latency_ms_torch"] = round(latency_ms(lambda: model(x), warmup=5, runs=50), 2)
        rows.append(row)
    if as_json:
        print(json.dumps({"input": f"1 x 12 x {samples} (10 s at {fs} Hz)", "models": rows}, indent=2))
        return
    table = Table("model", "params", "MACs (10 s)", "fp32 size", *(["latency (ms, 1 thread)"] if latency else []),
                  title=f"models (input 12 x {samples}: 10 s at {fs} Hz, {classes} classes)")
    for r in rows:
        table.add_row(r["name"], f"{r['params'] / 1e6:.3f} M", f"{r['macs'] / 1e6:.1f} M",
                      f"{r['size_fp32_bytes'] / 2**20:.2f} MiB", *([f"{r['latency_ms_torch']:.2f}"] if latency else []))
    console.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

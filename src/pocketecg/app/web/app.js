// The phone page: open an ECG, read and preprocess it here exactly as pocketecg does in Python, run the
// ONNX model with onnxruntime-web (WASM, one thread) and show the result. Nothing is uploaded.
import * as ort from "./vendor/ort.wasm.bundle.min.mjs";
import { checkSizes, readFiles, STANDARD_LEADS } from "./ecg-parsers.js";
import { modelFacts } from "./onnx-metadata.js";
import { preprocess } from "./preprocess.js";
import { drawRecord, drivingWindows, renderLeadLabels } from "./ecg-view.js";
import { reportPng } from "./report.js";

const CLASS_NAMES = {
  SNR: "normal ECG", AF: "atrial fibrillation", IAVB: "first-degree AV block",
  LBBB: "left bundle branch block", RBBB: "right bundle branch block", PAC: "premature atrial contraction",
  PVC: "premature ventricular contraction", STD: "ST depression", STE: "ST elevation",
};
// What the model does not look at (mirrors pocketecg.labels.not_assessed): the CPSC classes it lacks,
// then everything else. Shown with every result, so "no finding" is never read as "normal".
const NOT_ASSESSED_EXAMPLES = [
  "myocardial infarction or ischaemia", "ventricular hypertrophy", "axis deviation", "T-wave changes",
  "QT prolongation", "second- and third-degree AV block", "other arrhythmias (flutter, tachycardias, pauses)",
  "pacemaker rhythm", "incomplete right bundle branch block",
];
export function notAssessed(classes) {
  const missing = Object.keys(CLASS_NAMES).filter((c) => !classes.includes(c)).map((c) => `${CLASS_NAMES[c]} (${c})`);
  return [...missing, ...NOT_ASSESSED_EXAMPLES];
}
const $ = (id) => document.getElementById(id);
const state = { session: null, facts: null, last: null, pxPerMm: 1.6, examples: [] };
const ZOOMS = [1.6, 3.2];  // CSS px per mm: ~10 s across an upright phone, then twice that for detail

const RUNTIME_WASM = "vendor/ort-wasm-simd-threaded.wasm";

// url -> ArrayBuffer, reporting each chunk's bytes as it arrives (decoded bytes: when the server sends the file
// brotli- or gzip-compressed, Content-Length is the compressed size, so the total comes from files.json)
async function fetchWithProgress(url, onBytes) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} could not be loaded (HTTP ${response.status})`);
  if (!response.body) {
    const whole = await response.arrayBuffer();
    onBytes(whole.byteLength);
    return whole;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
    onBytes(value.byteLength);
  }
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) { whole.set(chunk, offset); offset += chunk.byteLength; }
  return whole.buffer;
}

function showLoadProgress(received, total) {
  const bar = $("load-progress");
  if (total > 0) {
    const fraction = Math.min(received / total, 1);
    bar.value = fraction;
    $("status").textContent = `Loading the model and its runtime… ${Math.round(100 * fraction)} %`;
  } else {
    bar.removeAttribute("value");  // indeterminate: the sizes are not known
    $("status").textContent = `Loading the model and its runtime… ${(received / 1e6).toFixed(1)} MB`;
  }
}

async function loadModel() {
  ort.env.wasm.numThreads = 1;  // one thread: no cross-origin isolation needed, and phones share cores poorly
  // sizes of the files as stored, for an honest progress bar; without them the bar is indeterminate
  const sizes = await fetch("files.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  const total = (sizes["model.onnx"] ?? 0) + (sizes[RUNTIME_WASM] ?? 0);
  let received = 0;
  const tick = (n) => { received += n; showLoadProgress(received, total); };
  // the model and the runtime (the 14 MB .wasm the bundled loader would otherwise fetch only once the
  // session is created, after the model) download side by side
  const [buffer, runtime] = await Promise.all([fetchWithProgress("model.onnx", tick), fetchWithProgress(RUNTIME_WASM, tick)]);
  ort.env.wasm.wasmBinary = runtime;
  $("load-progress").hidden = true;
  state.facts = modelFacts(buffer);
  if (state.facts.aggregation !== "mean") throw new Error(`unsupported window aggregation '${state.facts.aggregation}'`);
  state.session = await ort.InferenceSession.create(buffer, { executionProviders: ["wasm"] });
  // one warm-up run, so the time shown for the user's record is the steady-state cost, not first-call set-up
  const W = Math.round(state.facts.settings.window_seconds * state.facts.settings.fs);
  await infer(new Float32Array(12 * W), 1, W);
  const f = state.facts;
  $("model-info").textContent = `model: ${f.model} (pocketecg ${f.version}, ${(buffer.byteLength / 1024).toFixed(0)} KB, `
    + `classes ${f.classes.join(", ")}); onnxruntime-web ${ort.env.versions?.web ?? ""} WASM, 1 thread.`;
}

// windows: Float32Array (n * 12 * W) -> per-window probabilities (n x classes) and the time run() took.
async function infer(windows, nWindows, windowSamples) {
  const input = new ort.Tensor("float32", windows, [nWindows, 12, windowSamples]);
  const t0 = performance.now();
  const output = await state.session.run({ [state.session.inputNames[0]]: input });
  const ms = performance.now() - t0;
  const logits = output[state.session.outputNames[0]].data;
  const k = state.facts.classes.length;
  const probs = [];
  for (let w = 0; w < nWindows; w++) {
    probs.push(Array.from(logits.subarray(w * k, (w + 1) * k), (z) => 1 / (1 + Math.exp(-z))));
  }
  return { probs, ms };
}

// One record (Map name -> ArrayBuffer) -> the same facts `pocketecg predict --json` prints.
export async function classify(files) {
  const t0 = performance.now();
  const record = await readFiles(files);
  const { settings, sos, classes, thresholds } = state.facts;
  const pre = preprocess(record.leads, record.fs, settings, sos);
  const t1 = performance.now();
  const { probs, ms } = await infer(pre.data, pre.nWindows, pre.windowSamples);
  const probabilities = {};
  classes.forEach((c, j) => { probabilities[c] = probs.reduce((s, row) => s + row[j], 0) / probs.length; });
  const warnings = [...record.warnings];
  if (record.seconds < settings.window_seconds) {
    warnings.push(`short record: ${record.seconds.toFixed(1)} s, zero-padded to the ${settings.window_seconds}-s window`);
  }
  return {
    record: record.name, labels: classes.filter((c) => probabilities[c] >= thresholds[c]), probabilities, thresholds,
    windows: pre.nWindows, window_starts_s: pre.starts.map((s) => s / settings.fs), window_probabilities: probs,
    window_seconds: settings.window_seconds, seconds: record.seconds,
    fs: record.fs, warnings, inference_ms: ms, preprocessing_ms: t1 - t0, leads: record.leads,
    _windows: pre,
  };
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  $("result").hidden = true;
}

function render(result, title) {
  $("error").hidden = true;
  $("example-note").hidden = true;
  $("result").hidden = false;
  $("record-name").textContent = title;
  const found = result.labels.map((c) => `${c} (${CLASS_NAMES[c] ?? c})`);
  $("findings").textContent = found.length ? `Findings: ${found.join(", ")}`
    : "No finding: none of the classes reached its threshold. This is not a normal-ECG result.";
  $("not-assessed").textContent = `Not assessed by this model: ${notAssessed(Object.keys(result.probabilities)).join(", ")}.`;
  const body = $("probabilities").tBodies[0];
  body.replaceChildren();
  for (const [c, p] of Object.entries(result.probabilities)) {
    const t = result.thresholds[c];
    const row = body.insertRow();
    row.className = p >= t ? "found" : "";
    row.dataset.class = c;
    row.dataset.probability = String(p);
    row.insertCell().textContent = `${c} — ${CLASS_NAMES[c] ?? c}`;
    const bar = row.insertCell();
    bar.innerHTML = `<div class="bar"><div class="fill" style="width:${(100 * p).toFixed(1)}%"></div>`
      + `<div class="threshold" style="left:${(100 * t).toFixed(1)}%" title="threshold ${t}"></div></div>`;
    row.insertCell().textContent = p.toFixed(4);
    row.insertCell().textContent = t.toFixed(2);
  }
  const warnings = $("warnings");
  warnings.replaceChildren(...result.warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
  $("timing").textContent = `${result.seconds.toFixed(1)} s at ${result.fs} Hz, ${result.windows} window(s). `
    + `Inference ${result.inference_ms.toFixed(1)} ms on this device (onnxruntime-web, WASM, 1 thread); `
    + `reading and preprocessing ${result.preprocessing_ms.toFixed(0)} ms.`;
  $("timing").dataset.inferenceMs = String(result.inference_ms);
  drawEcgView(result);
}

function drawEcgView(result) {
  drawRecord($("ecg"), result, state.pxPerMm);
  $("ecg").dataset.pxPerMm = String(state.pxPerMm);
  renderLeadLabels($("lead-labels"), state.pxPerMm);
  const driving = drivingWindows(result);
  $("ecg-caption").textContent = `All 12 leads, the whole ${result.seconds.toFixed(1)} s (scroll sideways for more); `
    + "25 mm/s, 10 mm/mV, the step at each strip's start is a 1 mV calibration pulse. Bars above the leads are the "
    + `model's ${result.window_seconds}-s windows` + (driving.length
      ? `; red: the window that drove each finding (${driving.map((d) => `${d.cls} ${d.start_s.toFixed(0)} s`).join(", ")}).`
      : ".");
}

// load: an async function giving the record's files (Map name -> ArrayBuffer); its errors are shown too.
async function run(title, load) {
  $("status").textContent = `Classifying ${title}…`;
  try {
    const result = await classify(await load());
    state.last = result;
    render(result, title);
    $("status").textContent = "Done.";
  } catch (e) {
    showError(e.message || String(e));
    $("status").textContent = "That file could not be classified.";
  }
  // a counter of finished runs, so a test (or a script) can tell this result from the previous one
  document.body.dataset.runs = String(Number(document.body.dataset.runs ?? 0) + 1);
}

async function openFiles(fileList) {
  await run([...fileList].map((f) => f.name).join(" + "), async () => {
    checkSizes(fileList);
    const files = new Map();
    for (const f of fileList) files.set(f.name, await f.arrayBuffer());
    return files;
  });
}

// The examples the site was built with (real PTB-XL records after `make examples`, else synthetic ones).
async function loadExamples() {
  state.examples = await (await fetch("examples/index.json")).json();
  const select = $("example-select");
  select.replaceChildren(...state.examples.map((e, i) => Object.assign(document.createElement("option"),
    { value: String(i), textContent: e.title })));
  const credit = state.examples.find((e) => e.credit)?.credit;
  $("example-credit").textContent = credit ? `Examples: ${credit}`
    : "These examples are synthetic (drawn by pocketecg.synth), not real ECGs.";
  select.disabled = false;
}

async function tryExample() {
  const example = state.examples[Number($("example-select").value)];
  await run(example.title, async () => {
    const files = new Map();
    for (const name of example.files) files.set(name, await (await fetch(`examples/${name}`)).arrayBuffer());
    return files;
  });
  if (example.real) {
    $("example-note").textContent = `Real record from PTB-XL (CC BY 4.0). The cardiologists' statements: `
      + `${example.cardiologists.join(", ")}. Compare them with the model's findings above.`;
    $("example-note").hidden = false;
  }
}

// A one-page PNG of the last result, made here and saved through the browser's download.
async function saveReport() {
  const result = state.last;
  const { blob } = await reportPng(result, state.facts, CLASS_NAMES, notAssessed(Object.keys(result.probabilities)));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${result.record.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80)}-pocketecg-report.png`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// For benchmarks and tests: time n runs of the model on the last record's windows.
async function benchmark(n = 50) {
  const pre = state.last._windows;
  const times = [];
  for (let i = 0; i < n; i++) times.push((await infer(pre.data, pre.nWindows, pre.windowSamples)).ms);
  return times;
}

const ready = (async () => {
  try {
    await Promise.all([loadModel(), loadExamples()]);
    $("status").textContent = "Ready. Open a 12-lead ECG.";
    $("example-button").disabled = false;
    // registered only now: its precache then finds the runtime and model in the HTTP cache (a 304 at most)
    // instead of downloading them a second time while the page is still fetching them
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("sw.js").catch((e) => console.warn("offline use unavailable:", e));
    }
  } catch (e) {
    showError(`The model could not be loaded: ${e.message || e}`);
    $("status").textContent = "Not ready.";
    $("load-progress").hidden = true;
    throw e;
  }
})();

$("file-input").addEventListener("change", async (event) => {
  await ready;
  if (event.target.files.length) await openFiles(event.target.files);
  event.target.value = "";  // opening the same file again triggers a new run
});
$("zoom-button").addEventListener("click", () => {
  state.pxPerMm = ZOOMS[(ZOOMS.indexOf(state.pxPerMm) + 1) % ZOOMS.length];
  $("zoom-button").textContent = state.pxPerMm === ZOOMS[0] ? "Zoom in" : "Zoom out";
  if (state.last) drawEcgView(state.last);
});
$("report-button").addEventListener("click", () => saveReport().catch((e) => showError(`The report could not be made: ${e.message || e}`)));
$("example-button").addEventListener("click", () => tryExample().catch((e) => showError(e.message)));

window.pocketecg = { ready, classify, benchmark, get last() { return state.last; } };

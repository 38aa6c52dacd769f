// ECG files in the browser, read the way pocketecg.data reads them in Python:
// WFDB (.hea + .dat in formats 16/61/80/212, or a CinC MATLAB v4 .mat), the original CPSC 2018 .mat
// (MATLAB v5, compressed struct `ECG`), CSV with lead names (, ; or tab, decimal commas), and the
// clinical XML exports GE MUSE (<RestingECG>) and HL7 aECG (<AnnotatedECG>). `readFiles` picks the reader.
// SCP-ECG, DICOM, Philips Sierra and EDF are read by the Python side (predict, the API), not here.
// Every reader returns {leads: 12 Float64Arrays in mV, order I..V6, fs, name, units, missing, comments}
// or throws an Error whose message names the file and the problem.

export const STANDARD_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
const LEAD_KEYS = new Map(STANDARD_LEADS.map((l) => [l.toLowerCase(), l]));
export const MIN_SECONDS = 2.0;
// as pocketecg.data.record: checked from the header, before samples are decoded
export const MIN_FS = 50, MAX_FS = 20000, MAX_SECONDS = 1800, MAX_SAMPLES = 12 * 4000000;
const DERIVED_LEADS = ["III", "aVR", "aVL", "aVF"];
export const MAX_FILE_BYTES = 200 * 1024 * 1024;  // as pocketecg.data.record: larger than any 12-lead recording

export class RecordError extends Error {
  constructor(file, problem) { super(`${file}: ${problem}`); this.file = file; this.problem = problem; }
}

// 'Lead I', 'LEAD_II', 'MDC_ECG_LEAD_V1', 'Lead I (Einthoven)', 'V1 [mV]', 'avr' -> standard names (as Python)
export function standardLeadName(name) {
  let key = String(name).replace(/[([].*?[)\]]/g, "").trim().toLowerCase();
  key = key.replace(/^(mdc_ecg_lead_|ecg[\s_-]*lead[\s_:-]*|lead[\s_:-]*|ecg[\s_:-]+)/, "");
  return LEAD_KEYS.get(key.replace(/^[\s_:-]+|[\s_:-]+$/g, "")) ?? null;
}

export function checkSamplingRate(fs, file, where = "") {
  const v = Number(fs);
  if (!Number.isFinite(v) || v < MIN_FS || v > MAX_FS) {
    throw new RecordError(file, `implausible sampling rate ${fs} Hz${where}: an ECG is sampled at 50 Hz - 20 kHz`);
  }
  return v;
}

export function checkSize(samples, fs, file, leads = 12) {
  const seconds = samples / fs;
  if (seconds > MAX_SECONDS) throw new RecordError(file, `record too long: ${Math.round(seconds)} s, at most 30 minutes (a resting ECG; split longer recordings)`);
  if (samples * leads > MAX_SAMPLES) throw new RecordError(file, `record too large: ${leads} x ${samples} samples`);
}

function unitScale(units, file) {
  const key = String(units || "mV").trim().replace("μ", "u").replace("µ", "u").toLowerCase();
  if (key === "mv") return 1;
  if (key === "uv") return 1e-3;
  if (key === "v") return 1e3;
  if (key === "nu") return 1;
  throw new RecordError(file, `unsupported units '${units}' (expected mV, µV, V or NU)`);
}

// Put named rows in the standard order. III, aVR, aVL, aVF missing but I and II present: derived exactly;
// any other missing lead is an error unless allowed (then zero-filled). A lead named twice is refused.
export function arrangeLeads(rows, names, file, allowMissing = false) {
  const index = new Map();
  const duplicates = new Set();
  names.forEach((n, i) => {
    const s = standardLeadName(n);
    if (s && index.has(s)) duplicates.add(s);
    else if (s) index.set(s, i);
  });
  if (duplicates.size) throw new RecordError(file, `duplicate lead name(s): ${[...duplicates].sort().join(", ")}`);
  if (!index.size) throw new RecordError(file, `no standard ECG lead names found (got ${names.slice(0, 12).join(", ")})`);
  const n = rows[0].length;
  const leads = STANDARD_LEADS.map((l) => (index.has(l) ? Float64Array.from(rows[index.get(l)], Math.fround) : new Float64Array(n)));
  let derived = [];
  if (index.has("I") && index.has("II")) {
    derived = DERIVED_LEADS.filter((l) => !index.has(l));
    const a = leads[0], b = leads[1];
    const formula = { III: (i) => b[i] - a[i], aVR: (i) => -(a[i] + b[i]) / 2, aVL: (i) => a[i] - b[i] / 2, aVF: (i) => b[i] - a[i] / 2 };
    for (const l of derived) {
      const out = leads[STANDARD_LEADS.indexOf(l)];
      for (let i = 0; i < n; i++) out[i] = Math.fround(formula[l](i));
    }
  }
  const missing = STANDARD_LEADS.filter((l) => !index.has(l) && !derived.includes(l));
  if (missing.length && !allowMissing) {
    throw new RecordError(file, `wrong lead count: missing lead(s) ${missing.join(", ")} (${index.size} of 12 present)`);
  }
  return { leads, missing, derived };
}

// ---------------------------------------------------------------- WFDB header
export function parseHeader(text, file = "header") {
  const lines = text.split(/\r?\n/);
  const comments = lines.filter((l) => l.trim().startsWith("#")).map((l) => l.trim().replace(/^#\s*/, ""));
  const body = lines.map((l) => l.replace(/#.*/, "").trim()).filter((l) => l);
  if (!body.length) throw new RecordError(file, "unreadable WFDB header (empty)");
  const rec = body[0].split(/\s+/);
  const nSig = parseInt(rec[1], 10);
  const fs = parseFloat(rec[2]);
  const nSamples = parseInt(rec[3], 10);
  if (!(nSig > 0) || !(fs > 0) || !(nSamples > 0) || rec[0].includes("/")) {
    throw new RecordError(file, `unreadable WFDB header record line '${body[0]}'`);
  }
  if (body.length < 1 + nSig) throw new RecordError(file, `WFDB header lists ${body.length - 1} of ${nSig} signals`);
  const signals = body.slice(1, 1 + nSig).map((line) => {
    const f = line.split(/\s+/);
    const fmtMatch = /^(\d+)(?:x\d+)?(?::\d+)?(?:\+(\d+))?$/.exec(f[1] || "");
    if (!fmtMatch) throw new RecordError(file, `unreadable signal format '${f[1]}'`);
    const gainMatch = /^([-\d.eE+]+)(?:\(([-\d]+)\))?(?:\/(\S+))?$/.exec(f[2] || "");
    let gain = gainMatch ? parseFloat(gainMatch[1]) : 200;
    if (!gain) gain = 200;  // WFDB: 0 means uncalibrated, default 200 adu per unit
    const adcZero = f[4] !== undefined ? parseInt(f[4], 10) : 0;
    const baseline = gainMatch && gainMatch[2] !== undefined ? parseInt(gainMatch[2], 10) : adcZero;
    return { file: f[0], format: parseInt(fmtMatch[1], 10), byteOffset: parseInt(fmtMatch[2] || "0", 10),
      gain, baseline, units: (gainMatch && gainMatch[3]) || "mV", initVal: f[5] !== undefined ? parseInt(f[5], 10) : 0,
      name: f.slice(8).join(" ") || `lead${f.length}` };
  });
  return { name: rec[0], nSig, fs, nSamples, signals, comments };
}

// ---------------------------------------------------------------- signal files
function decodeFormat(buffer, format, byteOffset, nSig, nSamples, file) {
  const view = new DataView(buffer, byteOffset);
  const out = Array.from({ length: nSig }, () => new Float64Array(nSamples));
  const bytesPer = { 16: 2, 61: 2, 80: 1 }[format];
  if (bytesPer) {
    const need = nSig * nSamples * bytesPer;
    if (view.byteLength < need) throw new RecordError(file, `truncated signal: ${Math.floor(view.byteLength / bytesPer / nSig)} of ${nSamples} samples`);
    for (let t = 0, p = 0; t < nSamples; t++) {
      for (let s = 0; s < nSig; s++, p += bytesPer) {
        out[s][t] = format === 16 ? view.getInt16(p, true) : format === 61 ? view.getInt16(p, false) : view.getUint8(p) - 128;
      }
    }
    return out;
  }
  if (format === 212) {  // pairs of 12-bit samples packed in 3 bytes
    const total = nSig * nSamples;
    if (view.byteLength < Math.ceil(total * 1.5)) throw new RecordError(file, "truncated signal (format 212)");
    for (let k = 0, p = 0; k < total; k += 2, p += 3) {
      const b0 = view.getUint8(p), b1 = view.getUint8(p + 1);
      let v0 = ((b1 & 0x0f) << 8) | b0; if (v0 > 2047) v0 -= 4096;
      out[k % nSig][Math.floor(k / nSig)] = v0;
      if (k + 1 < total) {
        const b2 = view.getUint8(p + 2);
        let v1 = ((b1 & 0xf0) << 4) | b2; if (v1 > 2047) v1 -= 4096;
        out[(k + 1) % nSig][Math.floor((k + 1) / nSig)] = v1;
      }
    }
    return out;
  }
  throw new RecordError(file, `this page cannot read WFDB signal format ${format}; open an uncompressed copy of the record (formats 16, 61, 80, 212 or FLAC 508/516/524), or classify it on a computer with pocketecg predict`);
}

// WFDB's FLAC formats (8, 16 and 24 bits per sample): each signal file is one FLAC stream, one channel per
// signal in header order (at most 8, so a 12-lead record has two files). Decoded by libFLAC's WASM build
// (@wasm-audio-decoders/flac, which the page loads as window["flac-decoder"]). It returns floats divided by
// 2^(bits-1) - 1, so multiplying back and rounding gives the stored integers exactly (tested against wfdb).
const FLAC_FORMATS = new Set([508, 516, 524]);

// One FLAC signal file -> its `nSig` signals as stored integers, `nSamples` each.
async function decodeFlac(buffer, file, nSig, nSamples) {
  const library = globalThis["flac-decoder"];
  if (!library) throw new RecordError(file, "this record is FLAC-compressed and the page's FLAC decoder did not load: reload the page");
  const decoder = new library.FLACDecoder();
  let out;
  try {
    await decoder.ready;
    out = await decoder.decodeFile(new Uint8Array(buffer));
  } finally {
    decoder.free();
  }
  if (out.errors?.length || !out.channelData.length) {
    const why = out.errors?.length ? out.errors[0].message.split(";")[0] : "no part of it decodes";
    throw new RecordError(file, `corrupt FLAC signal file (${why})`);
  }
  if (out.channelData.length !== nSig) {
    throw new RecordError(file, `the FLAC file holds ${out.channelData.length} signals, the header says ${nSig}`);
  }
  if (out.samplesDecoded < nSamples) throw new RecordError(file, `truncated signal: ${out.samplesDecoded} of ${nSamples} samples`);
  const scale = 2 ** (out.bitDepth - 1) - 1;
  return out.channelData.map((c) => Float64Array.from(c.subarray(0, nSamples), (x) => Math.round(x * scale)));
}

// MATLAB v4 file holding `val` (CinC form): returns {rows, cols, data: row-major Float64Array}.
export function readMatV4(buffer, file) {
  if (buffer.byteLength < 20) throw new RecordError(file, "corrupt or truncated .mat file");
  const view = new DataView(buffer);
  let little = true;
  let type = view.getInt32(0, true);
  if (type < 0 || type > 9999) { little = false; type = view.getInt32(0, false); }
  const rows = view.getInt32(4, little), cols = view.getInt32(8, little), imag = view.getInt32(12, little);
  const nameLen = view.getInt32(16, little);
  if (type > 9999 || rows <= 0 || cols <= 0 || imag !== 0 || nameLen <= 0 || nameLen > 64) {
    throw new RecordError(file, "corrupt .mat file: neither the CinC (MATLAB v4) nor the CPSC (MATLAB v5) form");
  }
  const precision = Math.floor(type / 10) % 10;
  const size = { 0: 8, 1: 4, 2: 4, 3: 2, 4: 2, 5: 1 }[precision];
  const start = 20 + nameLen;
  if (buffer.byteLength < start + rows * cols * size) throw new RecordError(file, "corrupt or truncated .mat file");
  const get = [view.getFloat64, view.getFloat32, view.getInt32, view.getInt16, view.getUint16, view.getUint8][precision];
  const data = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) {
      data[r * cols + c] = get.call(view, start + (c * rows + r) * size, little);  // column-major on disk
    }
  }
  return { rows, cols, data };
}

// files: Map name -> ArrayBuffer (the .hea and its signal files). allowMissing: zero-fill missing leads.
// Asynchronous because FLAC signal files decode asynchronously.
export async function readWfdb(headerName, files, allowMissing = false) {
  const header = parseHeader(new TextDecoder().decode(files.get(headerName)), headerName);
  checkSamplingRate(header.fs, headerName, " (from the header)");
  checkSize(header.nSamples, header.fs, headerName, header.signals.length);
  const raw = [];
  const byFile = new Map();
  header.signals.forEach((s, i) => { if (!byFile.has(s.file)) byFile.set(s.file, []); byFile.get(s.file).push(i); });
  for (const [name, idx] of byFile) {
    const buffer = files.get(name);
    if (!buffer) throw new RecordError(headerName, `signal file ${name} not found: open it together with the .hea`);
    let decoded;
    const s0 = header.signals[idx[0]];
    if (FLAC_FORMATS.has(s0.format)) {
      decoded = await decodeFlac(buffer, name, idx.length, header.nSamples);
    } else if (name.toLowerCase().endsWith(".mat")) {
      const mat = readMatV4(buffer, name);
      if (mat.rows !== idx.length || mat.cols !== header.nSamples) {
        throw new RecordError(name, `'val' has shape ${mat.rows} x ${mat.cols}, the header says ${idx.length} x ${header.nSamples}`);
      }
      decoded = idx.map((_, r) => mat.data.subarray(r * mat.cols, (r + 1) * mat.cols));
    } else {
      decoded = decodeFormat(buffer, s0.format, s0.byteOffset, idx.length, header.nSamples, name);
    }
    idx.forEach((sigIndex, k) => { raw[sigIndex] = decoded[k]; });
  }
  const units = new Set(header.signals.map((s) => s.units.toLowerCase()));
  if (units.size !== 1) throw new RecordError(headerName, `leads use different units: ${[...units].join(", ")}`);
  const unit = header.signals[0].units;
  const scale = unitScale(unit, headerName);
  const physical = raw.map((row, i) => {
    const { gain, baseline } = header.signals[i];
    return row.map((v) => ((v - baseline) / gain) * scale);
  });
  const { leads, missing, derived } = arrangeLeads(physical, header.signals.map((s) => s.name), headerName, allowMissing);
  return check({ leads, fs: header.fs, name: header.name, units: unit.toLowerCase() === "nu" ? "NU" : "mV",
    missing, derived, comments: header.comments }, headerName);
}

// ---------------------------------------------------------------- CSV (as pocketecg.data.tabular)
const TIME_SECONDS = ["time", "t", "seconds", "sec", "s", "time_s", "time (s)", "time [s]", "t (s)", "t [s]", "time/s"];
const TIME_MILLISECONDS = ["time_ms", "ms", "msec", "t_ms", "time (ms)", "time [ms]", "t (ms)", "t [ms]", "time/ms"];

function splitCells(line, sep) { return line.split(sep).map((c) => c.trim().replace(/^"|"$/g, "").trim()); }

export function readCsv(text, file, fs = null, allowMissing = false, units = "mV") {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim());
  // the separator that splits the header into most cells; with ; or tab a decimal comma is a decimal point
  const sep = [",", ";", "\t"].reduce((best, c) => (lines[0].split(c).length > lines[0].split(best).length ? c : best), ",");
  const header = splitCells(lines[0], sep);
  if (!header.some(standardLeadName)) throw new RecordError(file, "not an ECG file: the CSV header names no ECG leads (expected I, II, ... V6)");
  if (lines.length < 2) throw new RecordError(file, "the CSV has a header but no sample rows");
  const sepName = { ",": "comma", ";": "semicolon", "\t": "tab" }[sep];
  const columns = header.map(() => []);
  for (let i = 1; i < lines.length; i++) {
    const cells = (sep === "," ? lines[i] : lines[i].replace(/,/g, ".")).split(sep);
    if (cells.length !== header.length) throw new RecordError(file, `row ${i + 1} has ${cells.length} columns but the header has ${header.length}`);
    cells.forEach((c, j) => {
      const v = Number(c);
      if (c.trim() === "" || Number.isNaN(v)) throw new RecordError(file, `non-numeric value '${c}' in row ${i + 1} (${sepName}-separated)`);
      columns[j].push(v);
    });
  }
  const lower = header.map((h) => h.toLowerCase());
  const warnings = [];
  if (lower.includes("fs")) fs = checkSamplingRate(columns[lower.indexOf("fs")][0], file, " (from the fs column)");
  else if (fs) fs = checkSamplingRate(fs, file, " (from --fs)");
  else {
    let t, scale = 1;
    const ms = TIME_MILLISECONDS.find((c) => lower.includes(c));
    if (ms) { t = lower.indexOf(ms); scale = 1e-3; } else {
      const sec = TIME_SECONDS.find((c) => lower.includes(c));
      if (sec) t = lower.indexOf(sec);
    }
    if (t === undefined) throw new RecordError(file, "sampling rate unknown: give the sampling rate or add a 'time' (s), 'time_ms' or 'fs' column");
    const steps = columns[t].slice(1).map((v, i) => v - columns[t][i]).sort((a, b) => a - b);
    const median = steps.length % 2 ? steps[(steps.length - 1) / 2] : (steps[steps.length / 2 - 1] + steps[steps.length / 2]) / 2;
    if (!(median > 0)) throw new RecordError(file, `the time column '${header[t]}' does not increase`);
    fs = 1 / (median * scale);
    if (scale === 1 && ["time", "t"].includes(lower[t]) && fs < MIN_FS && fs * 1000 >= MIN_FS && fs * 1000 <= MAX_FS) {
      warnings.push(`the time column '${header[t]}' read as milliseconds (as seconds it would mean ${+fs.toPrecision(6)} Hz)`);
      fs *= 1000;
    }
    fs = checkSamplingRate(Math.round(fs * 1e6) / 1e6, file, ` (from the time column '${header[t]}')`);
  }
  checkSize(columns[0].length, fs, file);
  const scale = unitScale(units, file);
  const scaled = scale === 1 ? columns : columns.map((col) => col.map((v) => v * scale));
  const { leads, missing, derived } = arrangeLeads(scaled, header, file, allowMissing);
  return check({ leads, fs, name: file.replace(/\.[^.]*$/, ""), units: "mV", missing, derived, comments: [], warnings }, file);
}

// ---------------------------------------------------------------- clinical XML (as ecgdatakit reads them)
// Regular expressions, not an XML parser: nothing is expanded (no entities, no external references), and
// a document declaring entities is refused outright, as defusedxml does in Python.
function xmlText(block, tag) {
  const m = new RegExp(`<${tag}[^>]*>([^<]*)</${tag}>`).exec(block);
  return m ? m[1].trim() : null;
}

function refuseEntities(text, file) {
  if (/<!ENTITY/i.test(text)) throw new RecordError(file, "XML entity declarations are not allowed");
}

// GE MUSE: <Waveform><WaveformType>Rhythm</WaveformType><SampleBase>500</SampleBase><LeadData>...
// <LeadID>I</LeadID><LeadAmplitudeUnitsPerBit>4.88</LeadAmplitudeUnitsPerBit><LeadAmplitudeUnits>MICROVOLTS
// </LeadAmplitudeUnits><WaveFormData>base64 int16 little-endian</WaveFormData></LeadData>...</Waveform>
export function readMuseXml(text, file, allowMissing = false) {
  refuseEntities(text, file);
  const waveforms = text.split(/<Waveform>/).slice(1);
  const rhythm = waveforms.find((w) => /<WaveformType>\s*Rhythm\s*<\/WaveformType>/i.test(w));
  if (!rhythm) throw new RecordError(file, "GE MUSE XML file has no rhythm waveform");
  const fs = checkSamplingRate(Number(xmlText(rhythm, "SampleBase")), file, " (from the GE MUSE XML file)");
  const names = [], rows = [];
  for (const lead of rhythm.split(/<LeadData>/).slice(1)) {
    const id = xmlText(lead, "LeadID"), data = xmlText(lead, "WaveFormData");
    if (!id || data === null) throw new RecordError(file, "corrupt or truncated GE MUSE XML file (a lead without LeadID or WaveFormData)");
    const perBit = Number(xmlText(lead, "LeadAmplitudeUnitsPerBit") ?? 4.88);
    const unit = (xmlText(lead, "LeadAmplitudeUnits") || "MICROVOLTS").toUpperCase();
    const toMv = unit.startsWith("MICRO") ? 1e-3 : unit.startsWith("MILLI") ? 1 : NaN;
    if (!Number.isFinite(toMv)) throw new RecordError(file, `unsupported amplitude units '${unit}'`);
    let bytes;
    try { bytes = Uint8Array.from(atob(data.replace(/\s+/g, "")), (c) => c.charCodeAt(0)); } catch (e) {
      throw new RecordError(file, `corrupt or truncated GE MUSE XML file (lead ${id}: not base64)`);
    }
    const view = new DataView(bytes.buffer, 0, bytes.length - (bytes.length % 2));
    const x = new Float64Array(view.byteLength / 2);
    for (let i = 0; i < x.length; i++) x[i] = view.getInt16(2 * i, true) * perBit * toMv;
    names.push(id); rows.push(x);
  }
  if (!rows.length) throw new RecordError(file, "GE MUSE XML file holds no waveform samples");
  const n = rows[0].length;
  if (rows.some((r) => r.length !== n)) throw new RecordError(file, "leads have different lengths");
  checkSize(n, fs, file, rows.length);
  const { leads, missing, derived } = arrangeLeads(rows, names, file, allowMissing);
  return check({ leads, fs, name: file.replace(/\.[^.]*$/, ""), units: "mV", missing, derived, comments: [] }, file);
}

// HL7 aECG: <sequence><code code="TIME_ABSOLUTE|TIME_RELATIVE"/><value ...><increment value="0.002" unit="s"/>
// then one <sequence> per lead: <code code="MDC_ECG_LEAD_I"/><value xsi:type="SLIST_PQ"><origin value unit/>
// <scale value unit/><digits>...</digits>. The first series holds the rhythm.
const AECG_UNITS = { uv: 1e-3, mv: 1, v: 1e3, nv: 1e-6 };
export function readAecgXml(text, file, allowMissing = false) {
  refuseEntities(text, file);
  // the rhythm: the first <series>, up to its end or to the median beats (<derivedSeries>) nested in it
  const series = text.split(/<series[\s>]/).slice(1)[0]?.split(/<\/series>|<derivedSeries[\s>]/)[0];
  if (!series) throw new RecordError(file, "HL7 aECG file has no waveform series");
  const sequences = series.split(/<sequence[\s>]/).slice(1);
  let fs = null;
  const names = [], rows = [];
  for (const seq of sequences) {
    const code = /<code[^>]*\scode="([^"]+)"/.exec(seq)?.[1] || "";
    if (code.startsWith("TIME_")) {
      const inc = /<increment[^>]*>/.exec(seq)?.[0];
      if (inc) {
        const value = Number(/\svalue="([^"]+)"/.exec(inc)?.[1]);
        const unit = /\sunit="([^"]+)"/.exec(inc)?.[1] ?? "s";
        fs = 1 / (value * ({ s: 1, ms: 1e-3 }[unit] ?? NaN));
      }
      continue;
    }
    const digits = xmlText(seq, "digits");
    if (digits === null) continue;
    const attr = (tag, name) => new RegExp(`<${tag}[^>]*\\s${name}="([^"]+)"`).exec(seq)?.[1];
    const scale = Number(attr("scale", "value") ?? 1), origin = Number(attr("origin", "value") ?? 0);
    const unit = (attr("scale", "unit") || "uV").replace("μ", "u").replace("µ", "u").toLowerCase();
    if (!(unit in AECG_UNITS)) throw new RecordError(file, `unsupported amplitude units '${unit}'`);
    const values = digits.split(/\s+/).filter((d) => d).map(Number);
    if (values.some(Number.isNaN)) throw new RecordError(file, "corrupt or truncated HL7 aECG file (non-numeric digits)");
    names.push(code.replace(/^MDC_ECG_LEAD_/, ""));
    rows.push(Float64Array.from(values, (d) => (d * scale + origin) * AECG_UNITS[unit]));
  }
  if (!rows.length) throw new RecordError(file, "HL7 aECG file holds no waveform samples");
  fs = checkSamplingRate(Math.round(fs * 1e6) / 1e6, file, " (from the HL7 aECG file)");
  const n = rows[0].length;
  if (rows.some((r) => r.length !== n)) throw new RecordError(file, "leads have different lengths");
  checkSize(n, fs, file, rows.length);
  const { leads, missing, derived } = arrangeLeads(rows, names, file, allowMissing);
  return check({ leads, fs, name: file.replace(/\.[^.]*$/, ""), units: "mV", missing, derived, comments: [] }, file);
}

export function readXml(buffer, file, allowMissing = false) {
  const bytes = new Uint8Array(buffer);
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  const text = new TextDecoder(utf16 ? (bytes[0] === 0xff ? "utf-16le" : "utf-16be") : "utf-8").decode(buffer);
  const head = text.slice(0, 4096);
  if (/<RestingECG[\s>]/.test(head)) return readMuseXml(text, file, allowMissing);
  if (/<AnnotatedECG[\s>]/.test(head)) return readAecgXml(text, file, allowMissing);
  if (/<restingecgdata[\s>]/i.test(head)) {
    throw new RecordError(file, "Philips Sierra XML is read by pocketecg in Python (pocketecg predict, the API), not in this page yet");
  }
  throw new RecordError(file, "not an ECG file: the XML is neither GE MUSE (<RestingECG>) nor HL7 aECG (<AnnotatedECG>)");
}

// DICOM 12-lead / general ECG waveform (PS3.3 C.10.9), parsed by dicom-parser (window.dicomParser, loaded by
// index.html as a classic script). As pocketecg.data.clinical.read_dicom: the group labelled RHYTHM (else the
// longest), raw * ChannelSensitivity * correction + ChannelBaseline, trailing all-padding rows trimmed.
const DICOM_SAMPLE_TYPES = { "16 SS": "getInt16", "16 US": "getUint16", "8 SB": "getInt8", "8 UB": "getUint8",
  "32 SL": "getInt32", "32 UL": "getUint32" };
export function readDicom(buffer, file, allowMissing = false) {
  const parser = globalThis.dicomParser;
  if (!parser) throw new RecordError(file, "the page's DICOM reader (dicom-parser) did not load; reload the page");
  const bytes = new Uint8Array(buffer);
  let ds;
  try { ds = parser.parseDicom(bytes); } catch (e) {
    throw new RecordError(file, `corrupt or truncated DICOM file (${e?.exception || e?.message || e})`);
  }
  if (ds.string("x00020010") === "1.2.840.10008.1.2.2") {
    throw new RecordError(file, "big-endian DICOM files are not read by this page (pocketecg in Python reads them)");
  }
  const groups = (ds.elements.x54000100?.items || []).map((item) => item.dataSet);
  if (!groups.length) throw new RecordError(file, "DICOM file has no waveform (WaveformSequence), so it is not an ECG waveform object");
  let group = groups.find((g) => (g.string("x003a0020") || "").toUpperCase().includes("RHYTHM"));
  if (!group) group = groups.reduce((a, b) => ((b.uint32("x003a0010") || 0) > (a.uint32("x003a0010") || 0) ? b : a));
  const fs = checkSamplingRate(group.floatString("x003a001a"), file, " (from the DICOM file)");
  const nSamples = group.uint32("x003a0010"), nChannels = group.uint16("x003a0005");
  if (!(nSamples > 0) || !(nChannels > 0)) throw new RecordError(file, "corrupt or truncated DICOM file (no sample or channel count)");
  checkSize(nSamples, fs, file, nChannels);
  const bits = group.uint16("x54001004"), kind = (group.string("x54001006") || "").trim();
  const getter = DICOM_SAMPLE_TYPES[`${bits} ${kind}`];
  if (!getter) throw new RecordError(file, `unsupported DICOM sample type (${bits} bits, '${kind}')`);
  const data = group.elements.x54001010, size = bits / 8;
  if (!data || data.length < nSamples * nChannels * size || data.dataOffset + data.length > bytes.length) {
    throw new RecordError(file, "corrupt or truncated DICOM file (waveform data shorter than its sample count)");
  }
  const channels = (group.elements.x003a0200?.items || []).map((item) => item.dataSet);
  if (channels.length !== nChannels) throw new RecordError(file, `corrupt DICOM file (${channels.length} channel definitions for ${nChannels} channels)`);
  const first = (seq, tag) => seq?.items?.[0]?.dataSet?.string(tag);
  const names = channels.map((ch, i) => first(ch.elements.x003a0208, "x00080104") ?? `channel ${i}`);
  const units = new Set(channels.map((ch) => first(ch.elements.x003a0211, "x00080100") ?? "uV"));
  if (units.size !== 1) throw new RecordError(file, `channels use different units: ${[...units].sort().join(", ")}`);
  const [unit] = units;
  const scale = unitScale(unit, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset + data.dataOffset, nSamples * nChannels * size);
  const raw = (t, c) => view[getter]((t * nChannels + c) * size, true);
  // trailing rows where every channel holds WaveformPaddingValue are padding, not signal
  let end = nSamples;
  const pad = group.elements.x5400100a;
  if (pad) {
    const padValue = new DataView(bytes.buffer, bytes.byteOffset + pad.dataOffset, size)[getter](0, true);
    while (end > 0 && Array.from({ length: nChannels }, (_, c) => raw(end - 1, c)).every((v) => v === padValue)) end--;
  }
  const rows = channels.map((ch, c) => {
    const sensitivity = ch.floatString("x003a0210") ?? 1, correction = ch.floatString("x003a0212") ?? 1;
    const baseline = ch.floatString("x003a0213") ?? 0;
    const x = new Float64Array(end);
    for (let t = 0; t < end; t++) x[t] = (raw(t, c) * sensitivity * correction + baseline) * scale;
    return x;
  });
  const { leads, missing, derived } = arrangeLeads(rows, names, file, allowMissing);
  const outUnits = scale === 1 && String(unit).trim().toLowerCase() === "nu" ? "NU" : "mV";
  return check({ leads, fs, name: file.replace(/\.[^.]*$/, ""), units: outUnits, missing, derived, comments: [] }, file);
}

export function isDicom(buffer) {
  const b = new Uint8Array(buffer, 0, Math.min(132, buffer.byteLength));
  return b.length === 132 && String.fromCharCode(...b.slice(128)) === "DICM";
}

// ---------------------------------------------------------------- checks (as pocketecg.data.record)
export function check(record, file) {
  checkSamplingRate(record.fs, file);
  const n = record.leads[0].length;
  const seconds = n / record.fs;
  if (seconds < MIN_SECONDS) throw new RecordError(file, `record too short: ${seconds.toFixed(2)} s, at least 2 s needed`);
  const bad = STANDARD_LEADS.filter((_, i) => record.leads[i].some((v) => !Number.isFinite(v)));
  if (bad.length) throw new RecordError(file, `NaN or infinite samples in lead(s) ${bad.join(", ")}`);
  const warnings = [...(record.warnings || [])];
  const present = STANDARD_LEADS.map((l, i) => i).filter((i) => !record.missing.includes(STANDARD_LEADS[i]));
  const range = (x) => { let lo = Infinity, hi = -Infinity; for (const v of x) { if (v < lo) lo = v; if (v > hi) hi = v; } return hi - lo; };
  const flat = present.filter((i) => range(record.leads[i]) < 1e-3).map((i) => STANDARD_LEADS[i]);
  if (flat.length === present.length) throw new RecordError(file, "all leads are flat (no signal)");
  if (flat.length) warnings.push(`flat lead(s): ${flat.join(", ")}`);
  if (record.missing.length) warnings.push(`missing lead(s), zero-filled: ${record.missing.join(", ")}`);
  if (record.derived?.length) warnings.push(`lead(s) ${record.derived.join(", ")} derived from I and II (the file stores only the independent leads)`);
  if (record.units === "mV") {
    const largest = Math.max(...present.map((i) => robustRange(record.leads[i])));
    if (largest > 50) throw new RecordError(file, `implausible amplitude: ${largest.toPrecision(3)} mV peak-to-peak (wrong units? µV stored as mV?)`);
    if (largest < 0.02) throw new RecordError(file, `implausible amplitude: ${largest.toPrecision(3)} mV peak-to-peak (wrong units? volts stored as mV?)`);
  }
  return { ...record, seconds, warnings };
}

function robustRange(x) {  // 99.5th minus 0.5th percentile (numpy's linear interpolation)
  const s = Float64Array.from(x).sort();
  const q = (p) => { const pos = (s.length - 1) * p, lo = Math.floor(pos), hi = Math.ceil(pos); return s[lo] + (s[hi] - s[lo]) * (pos - lo); };
  return q(0.995) - q(0.005);
}

// ---------------------------------------------------------------- CPSC 2018 original .mat (MATLAB v5)
const MAT5 = { INT8: 1, INT32: 5, UINT32: 6, MATRIX: 14, COMPRESSED: 15 };
const MAT5_READERS = {  // MATLAB stores a double array in the smallest type that holds its values
  1: ["getInt8", 1], 2: ["getUint8", 1], 3: ["getInt16", 2], 4: ["getUint16", 2], 5: ["getInt32", 4],
  6: ["getUint32", 4], 7: ["getFloat32", 4], 9: ["getFloat64", 8], 12: ["getBigInt64", 8], 13: ["getBigUint64", 8],
  16: ["getUint8", 1], 17: ["getUint16", 2], 18: ["getUint32", 4],
};
const MX_STRUCT = 2, MX_CHAR = 4;

export function isMatV5(buffer) {
  return buffer.byteLength >= 128 && new TextDecoder().decode(new Uint8Array(buffer, 0, 6)) === "MATLAB";
}

async function inflate(bytes, file) {
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return await new Response(stream).arrayBuffer();
  } catch {
    throw new RecordError(file, "corrupt or truncated .mat file (compressed data does not inflate)");
  }
}

// One data element at pos: {type, data (DataView), next}.
function mat5Element(view, pos, little, file) {
  if (pos + 8 > view.byteLength) throw new RecordError(file, "corrupt or truncated .mat file");
  let type = view.getUint32(pos, little);
  let size = view.getUint32(pos + 4, little);
  if (type >>> 16) {  // small element: size and type share the first word, data in the second
    size = type >>> 16;
    type &= 0xffff;
    return { type, data: new DataView(view.buffer, view.byteOffset + pos + 4, size), next: pos + 8 };
  }
  if (pos + 8 + size > view.byteLength) throw new RecordError(file, "corrupt or truncated .mat file");
  const next = type === MAT5.COMPRESSED ? pos + 8 + size : pos + 8 + Math.ceil(size / 8) * 8;
  return { type, data: new DataView(view.buffer, view.byteOffset + pos + 8, size), next };
}

function mat5Numbers(el, little, file) {
  const reader = MAT5_READERS[el.type];
  if (!reader) throw new RecordError(file, `unsupported MATLAB data type ${el.type}`);
  const [get, size] = reader;
  const out = new Float64Array(Math.floor(el.data.byteLength / size));
  for (let i = 0; i < out.length; i++) out[i] = Number(el.data[get](i * size, little));
  return out;
}

// An miMATRIX element -> {name, dims, cls, values | text | fields}.
function mat5Matrix(view, little, file) {
  const flags = mat5Element(view, 0, little, file);
  const dims = mat5Element(view, flags.next, little, file);
  const name = mat5Element(view, dims.next, little, file);
  const cls = flags.data.getUint32(0, little) & 0xff;
  const shape = Array.from(mat5Numbers(dims, little, file));
  const out = { name: new TextDecoder().decode(name.data), dims: shape, cls };
  if (cls === MX_STRUCT) {
    const nameLength = mat5Element(view, name.next, little, file);
    const names = mat5Element(view, nameLength.next, little, file);
    const width = nameLength.data.getInt32(0, little);
    const raw = new Uint8Array(names.data.buffer, names.data.byteOffset, names.data.byteLength);
    const fieldNames = [];
    for (let i = 0; i + width <= raw.length; i += width) {
      fieldNames.push(new TextDecoder().decode(raw.subarray(i, i + width)).replace(/\0.*$/s, ""));
    }
    out.fields = {};
    let pos = names.next;
    for (const field of fieldNames) {  // the first element of the struct array (CPSC files hold one)
      const el = mat5Element(view, pos, little, file);
      out.fields[field] = el.data.byteLength ? mat5Matrix(el.data, little, file) : null;
      pos = el.next;
    }
  } else if (cls === MX_CHAR) {
    const el = mat5Element(view, name.next, little, file);
    out.text = String.fromCharCode(...mat5Numbers(el, little, file));
  } else {
    out.values = mat5Numbers(mat5Element(view, name.next, little, file), little, file);
  }
  return out;
}

// The original CPSC 2018 form: struct ECG {sex, age, data (12 x N, mV)} at 500 Hz.
export async function readCpscMat(buffer, file) {
  const little = new TextDecoder().decode(new Uint8Array(buffer, 126, 2)) === "IM";
  let view = new DataView(buffer);
  let pos = 128;
  while (pos < view.byteLength) {
    let el = mat5Element(view, pos, little, file);
    pos = el.next;
    if (el.type === MAT5.COMPRESSED) {
      const inner = new DataView(await inflate(new Uint8Array(el.data.buffer, el.data.byteOffset, el.data.byteLength), file));
      el = mat5Element(inner, 0, little, file);
    }
    if (el.type !== MAT5.MATRIX) continue;
    const matrix = mat5Matrix(el.data, little, file);
    if (matrix.name !== "ECG") continue;
    const data = matrix.fields?.data;
    if (!data?.values) throw new RecordError(file, "malformed CPSC 'ECG' struct (no numeric 'data' field)");
    let [rows, cols] = data.dims;
    if (data.dims.length !== 2 || (rows !== 12 && cols !== 12)) {
      throw new RecordError(file, `wrong lead count: data has shape (${data.dims.join(", ")}), expected 12 x samples`);
    }
    // column-major on disk; leads are rows (or columns, as Python also accepts)
    const leadsAreRows = rows === 12;
    const n = leadsAreRows ? cols : rows;
    const leads = STANDARD_LEADS.map((_, lead) => {
      const x = new Float64Array(n);
      for (let t = 0; t < n; t++) x[t] = leadsAreRows ? data.values[t * rows + lead] : data.values[lead * rows + t];
      return x;
    });
    return check({ leads, fs: 500, name: file.replace(/\.[^.]*$/, ""), units: "mV", missing: [], comments: [] }, file);
  }
  throw new RecordError(file, "not a CPSC 2018 .mat file (no 'ECG' struct)");
}

// ---------------------------------------------------------------- any opened files
// Refuse a file too large to be one ECG before reading it into memory (a phone tab would run out).
export function checkSizes(files) {
  for (const f of files) {
    if (f.size > MAX_FILE_BYTES) {
      throw new RecordError(f.name, `file too large for one ECG (${Math.round(f.size / 2 ** 20)} MiB)`);
    }
  }
}

// files: Map name -> ArrayBuffer for one record: a .hea with its .dat/.mat, a CPSC .mat, or a CSV.
export async function readFiles(files, { fs = null, allowMissing = false, units = "mV" } = {}) {
  const names = [...files.keys()];
  if (!names.length) throw new Error("no file opened");
  const headers = names.filter((n) => n.toLowerCase().endsWith(".hea"));
  if (headers.length > 1) throw new Error(`open one record at a time (got ${headers.join(", ")})`);
  if (headers.length) return readWfdb(headers[0], files, allowMissing);
  const others = names.filter((n) => !n.toLowerCase().endsWith(".dat"));
  if (!others.length) throw new RecordError(names[0], "WFDB signal file without its .hea header");
  if (others.length > 1) throw new Error(`open one record at a time (got ${others.join(", ")})`);
  const [name] = others;
  const buffer = files.get(name);
  if (!buffer.byteLength) throw new RecordError(name, "empty file");
  const suffix = name.includes(".") ? name.slice(name.lastIndexOf(".")).toLowerCase() : "";
  if (suffix === ".csv" || suffix === ".txt") return readCsv(new TextDecoder().decode(buffer), name, fs, allowMissing, units);
  if (suffix === ".xml") return readXml(buffer, name, allowMissing);
  if ([".dcm", ".dicom"].includes(suffix) || isDicom(buffer)) return readDicom(buffer, name, allowMissing);
  if ([".scp", ".edf"].includes(suffix)) {
    throw new RecordError(name, `${suffix} files are read by pocketecg in Python (pocketecg predict, the API), not in this page yet`);
  }
  if (suffix === ".mat") {
    if (isMatV5(buffer)) return readCpscMat(buffer, name);
    readMatV4(buffer, name);  // throws for a corrupt file; a valid one still needs its header:
    throw new RecordError(name, "CinC/WFDB .mat without its .hea header (needed for gain and leads)");
  }
  throw new RecordError(name, `not an ECG file: unsupported file type '${suffix || "(none)"}' (expected .hea with .dat/.mat, CPSC .mat, .csv, GE MUSE / HL7 aECG .xml, or DICOM .dcm)`);
}

// ECG files in the browser, read the way pocketecg.data reads them in Python:
// WFDB (.hea + .dat in formats 16/61/80/212, or a CinC MATLAB v4 .mat), the original CPSC 2018 .mat
// (MATLAB v5, compressed struct `ECG`), and CSV with lead names. `readFiles` picks the reader.
// Every reader returns {leads: 12 Float64Arrays in mV, order I..V6, fs, name, units, missing, comments}
// or throws an Error whose message names the file and the problem.

export const STANDARD_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
const LEAD_KEYS = new Map(STANDARD_LEADS.map((l) => [l.toLowerCase(), l]));
export const MIN_SECONDS = 2.0;
export const MAX_FILE_BYTES = 200 * 1024 * 1024;  // as pocketecg.data.record: larger than any 12-lead recording

export class RecordError extends Error {
  constructor(file, problem) { super(`${file}: ${problem}`); this.file = file; this.problem = problem; }
}

export function standardLeadName(name) { return LEAD_KEYS.get(String(name).trim().toLowerCase()) ?? null; }

function unitScale(units, file) {
  const key = String(units || "mV").trim().replace("μ", "u").replace("µ", "u").toLowerCase();
  if (key === "mv") return 1;
  if (key === "uv") return 1e-3;
  if (key === "v") return 1e3;
  if (key === "nu") return 1;
  throw new RecordError(file, `unsupported units '${units}' (expected mV, µV, V or NU)`);
}

// Put named rows in the standard order; a missing lead is an error unless allowed (then zero-filled).
export function arrangeLeads(rows, names, file, allowMissing = false) {
  const index = new Map();
  names.forEach((n, i) => { const s = standardLeadName(n); if (s && !index.has(s)) index.set(s, i); });
  const missing = STANDARD_LEADS.filter((l) => !index.has(l));
  if (missing.length === 12) throw new RecordError(file, `no standard ECG lead names found (got ${names.slice(0, 12).join(", ")})`);
  if (missing.length && !allowMissing) {
    throw new RecordError(file, `wrong lead count: missing lead(s) ${missing.join(", ")} (${12 - missing.length} of 12 present)`);
  }
  const n = rows[0].length;
  const leads = STANDARD_LEADS.map((l) => (index.has(l) ? Float64Array.from(rows[index.get(l)]) : new Float64Array(n)));
  return { leads, missing };
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
  throw new RecordError(file, `WFDB signal format ${format} is not supported in the browser (use 16, 61, 80 or 212; convert FLAC/516 with wfdb)`);
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
export function readWfdb(headerName, files, allowMissing = false) {
  const header = parseHeader(new TextDecoder().decode(files.get(headerName)), headerName);
  const raw = [];
  const byFile = new Map();
  header.signals.forEach((s, i) => { if (!byFile.has(s.file)) byFile.set(s.file, []); byFile.get(s.file).push(i); });
  for (const [name, idx] of byFile) {
    const buffer = files.get(name);
    if (!buffer) throw new RecordError(headerName, `signal file ${name} not found: open it together with the .hea`);
    let decoded;
    if (name.toLowerCase().endsWith(".mat")) {
      const mat = readMatV4(buffer, name);
      if (mat.rows !== idx.length || mat.cols !== header.nSamples) {
        throw new RecordError(name, `'val' has shape ${mat.rows} x ${mat.cols}, the header says ${idx.length} x ${header.nSamples}`);
      }
      decoded = idx.map((_, r) => mat.data.subarray(r * mat.cols, (r + 1) * mat.cols));
    } else {
      const s0 = header.signals[idx[0]];
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
  const { leads, missing } = arrangeLeads(physical, header.signals.map((s) => s.name), headerName, allowMissing);
  return check({ leads, fs: header.fs, name: header.name, units: unit.toLowerCase() === "nu" ? "NU" : "mV",
    missing, comments: header.comments }, headerName);
}

// ---------------------------------------------------------------- CSV
const TIME_COLUMNS = ["time", "t", "seconds", "time_s"];

export function readCsv(text, file, fs = null, allowMissing = false) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim());
  const header = lines[0].split(",").map((c) => c.trim());
  if (!header.some(standardLeadName)) throw new RecordError(file, "not an ECG file: the CSV header names no ECG leads (expected I, II, ... V6)");
  const columns = header.map(() => []);
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(",");
    if (cells.length !== header.length) throw new RecordError(file, `row ${i + 1} has ${cells.length} columns but the header has ${header.length}`);
    cells.forEach((c, j) => {
      const v = Number(c);
      if (c.trim() === "" || Number.isNaN(v)) throw new RecordError(file, `non-numeric value '${c}' in row ${i + 1}`);
      columns[j].push(v);
    });
  }
  const lower = header.map((h) => h.toLowerCase());
  if (lower.includes("fs")) fs = columns[lower.indexOf("fs")][0];
  else if (!fs) {
    const t = TIME_COLUMNS.map((c) => lower.indexOf(c)).find((i) => i >= 0);
    if (t === undefined) throw new RecordError(file, "sampling rate unknown: add a 'time' (s) or 'fs' column");
    const steps = columns[t].slice(1).map((v, i) => v - columns[t][i]).sort((a, b) => a - b);
    const median = steps.length % 2 ? steps[(steps.length - 1) / 2] : (steps[steps.length / 2 - 1] + steps[steps.length / 2]) / 2;
    if (!(median > 0)) throw new RecordError(file, "the time column does not increase");
    fs = Math.round(1e6 / median) / 1e6;
  }
  const { leads, missing } = arrangeLeads(columns, header, file, allowMissing);
  return check({ leads, fs, name: file.replace(/\.[^.]*$/, ""), units: "mV", missing, comments: [] }, file);
}

// ---------------------------------------------------------------- checks (as pocketecg.data.record)
export function check(record, file) {
  const n = record.leads[0].length;
  const seconds = n / record.fs;
  if (seconds < MIN_SECONDS) throw new RecordError(file, `record too short: ${seconds.toFixed(2)} s, at least 2 s needed`);
  const bad = STANDARD_LEADS.filter((_, i) => record.leads[i].some((v) => !Number.isFinite(v)));
  if (bad.length) throw new RecordError(file, `NaN or infinite samples in lead(s) ${bad.join(", ")}`);
  const warnings = [];
  const present = STANDARD_LEADS.map((l, i) => i).filter((i) => !record.missing.includes(STANDARD_LEADS[i]));
  const range = (x) => { let lo = Infinity, hi = -Infinity; for (const v of x) { if (v < lo) lo = v; if (v > hi) hi = v; } return hi - lo; };
  const flat = present.filter((i) => range(record.leads[i]) < 1e-3).map((i) => STANDARD_LEADS[i]);
  if (flat.length === present.length) throw new RecordError(file, "all leads are flat (no signal)");
  if (flat.length) warnings.push(`flat lead(s): ${flat.join(", ")}`);
  if (record.missing.length) warnings.push(`missing lead(s), zero-filled: ${record.missing.join(", ")}`);
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
export async function readFiles(files, { fs = null, allowMissing = false } = {}) {
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
  if (suffix === ".csv" || suffix === ".txt") return readCsv(new TextDecoder().decode(buffer), name, fs, allowMissing);
  if (suffix === ".mat") {
    if (isMatV5(buffer)) return readCpscMat(buffer, name);
    readMatV4(buffer, name);  // throws for a corrupt file; a valid one still needs its header:
    throw new RecordError(name, "CinC/WFDB .mat without its .hea header (needed for gain and leads)");
  }
  throw new RecordError(name, `not an ECG file: unsupported file type '${suffix || "(none)"}' (expected .hea with .dat/.mat, CPSC .mat or .csv)`);
}

// "Save report": one landscape A4 page as a PNG, drawn on the device (nothing is uploaded). It holds the
// record's name, the date, the findings, every probability with its threshold, what the model does not
// assess, the 12 leads as an ECG cart prints them (3 x 4 of 2.5 s + a 10-s lead II rhythm strip, 25 mm/s,
// 10 mm/mV, 1 mV pulses), the model and its version, and the disclaimer. The same text goes into the PNG's
// tEXt chunks, so a records system (or a test) can read the findings without looking at pixels.
import { STANDARD_LEADS } from "./ecg-parsers.js";
import { drawStrip, PAPER } from "./ecg-view.js";

const PAGE_MM = { width: 297, height: 210, margin: 10 };
const PX_PER_MM = 5;  // 127 dpi: 1485 x 1050 px, sharp on screen and legible when printed
const CART_COLUMNS = [["I", "II", "III"], ["aVR", "aVL", "aVF"], ["V1", "V2", "V3"], ["V4", "V5", "V6"]];
export const DISCLAIMER = "Research software, not a medical device. Do not use it to diagnose or treat anyone; "
  + "a clinician must read the ECG. Probabilities are not calibrated.";

// The report's text, line by line (also what goes into the PNG's tEXt chunks).
export function reportText(result, facts, names, notAssessed, when = new Date()) {
  const found = result.labels.map((c) => `${c} (${names[c] ?? c})`);
  return {
    Title: `pocketecg report: ${result.record}`,
    "Creation Time": when.toISOString(),
    Findings: found.length ? found.join(", ") : "no finding (none of the classes reached its threshold; this is not a normal-ECG result)",
    Probabilities: Object.entries(result.probabilities)
      .map(([c, p]) => `${c} ${p.toFixed(3)} (threshold ${result.thresholds[c].toFixed(2)})`).join("; "),
    "Not assessed": notAssessed.join(", "),
    Record: `${result.seconds.toFixed(1)} s at ${result.fs} Hz, ${result.windows} window(s) of ${result.window_seconds} s`,
    Software: `pocketecg ${facts.version}, model ${facts.model}`,
    ...(result.warnings.length ? { Warnings: result.warnings.join("; ") } : {}),
    Disclaimer: DISCLAIMER,
  };
}

function wrap(ctx, text, maxWidth) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width > maxWidth && line) { lines.push(line); line = word; } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

export function drawReport(canvas, result, text) {
  const mm = PX_PER_MM, W = PAGE_MM.width * mm, H = PAGE_MM.height * mm, m = PAGE_MM.margin * mm;
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = "#111";
  ctx.textBaseline = "top";
  ctx.font = `bold ${5 * mm}px system-ui, sans-serif`;
  ctx.fillText(text.Title, m, m);
  ctx.font = `${3 * mm}px system-ui, sans-serif`;
  ctx.fillText(`${text["Creation Time"].replace("T", " ").slice(0, 16)} UTC · ${text.Record} · ${text.Software}`, m, m + 7 * mm);
  ctx.font = `bold ${3.6 * mm}px system-ui, sans-serif`;
  let y = m + 12 * mm;
  for (const line of wrap(ctx, `Findings: ${text.Findings}`, W - 2 * m)) { ctx.fillText(line, m, y); y += 4.6 * mm; }
  ctx.font = `${2.8 * mm}px system-ui, sans-serif`;
  // probabilities as a compact table: class, probability, threshold, found
  const entries = Object.entries(result.probabilities), colW = (W - 2 * m) / Math.min(entries.length, 6);
  entries.forEach(([c, p], i) => {
    const x = m + (i % 6) * colW, yy = y + Math.floor(i / 6) * 4 * mm;
    ctx.font = `${p >= result.thresholds[c] ? "bold " : ""}${2.8 * mm}px system-ui, sans-serif`;
    ctx.fillText(`${c}  p ${p.toFixed(3)} / thr ${result.thresholds[c].toFixed(2)}${p >= result.thresholds[c] ? "  ✔" : ""}`, x, yy);
  });
  y += Math.ceil(entries.length / 6) * 4 * mm + 1 * mm;
  ctx.font = `${2.5 * mm}px system-ui, sans-serif`;
  for (const line of wrap(ctx, `Not assessed by this model: ${text["Not assessed"]}.`, W - 2 * m)) { ctx.fillText(line, m, y); y += 3.2 * mm; }
  if (text.Warnings) {
    ctx.fillStyle = "#7a4d00";
    for (const line of wrap(ctx, `Warnings: ${text.Warnings}`, W - 2 * m)) { ctx.fillText(line, m, y); y += 3.2 * mm; }
    ctx.fillStyle = "#111";
  }

  // the cart layout: rows of 25 mm, 4 columns of 2.5 s, then the lead II rhythm strip over 10 s
  const rowMm = 25, gridTop = y + 2 * mm, rows = 4, gridH = rows * rowMm * mm;
  const colS = 2.5, colMm = PAPER.leadInMm + colS * PAPER.mmPerSecond, gridW = 4 * colMm * mm;
  const x0 = m;
  const scale = Math.min(1, (H - m - 12 * mm - gridTop) / gridH);  // long finding lists shrink the paper, never clip it
  const captionTop = gridTop + gridH * scale + 2 * mm;
  ctx.save();
  ctx.translate(x0, gridTop);
  ctx.scale(scale, scale);
  ctx.fillStyle = "#fff7f7";
  ctx.fillRect(0, 0, gridW, gridH);
  for (const [step, colour] of [[1, "#f4d0d0"], [5, "#e39a9a"]]) {
    ctx.strokeStyle = colour; ctx.lineWidth = 1; ctx.beginPath();
    for (let x = 0; x <= gridW + 0.5; x += step * mm) { ctx.moveTo(x, 0); ctx.lineTo(x, gridH); }
    for (let yy = 0; yy <= gridH + 0.5; yy += step * mm) { ctx.moveTo(0, yy); ctx.lineTo(gridW, yy); }
    ctx.stroke();
  }
  ctx.font = `bold ${3 * mm}px system-ui, sans-serif`;
  CART_COLUMNS.forEach((names, c) => {
    // a record shorter than 10 s still fills every column: a column starts where its 2.5 s still fit
    const from = Math.max(0, Math.min(c * colS, result.seconds - colS));
    names.forEach((name, r) => {
      const yMid = (r + 0.6) * rowMm * mm, x = c * colMm * mm;
      drawStrip(ctx, result.leads[STANDARD_LEADS.indexOf(name)], result.fs, x, yMid, mm, from, colS);
      ctx.fillStyle = "#111";
      ctx.fillText(`${name}  ${from.toFixed(1)} s`, x + 1 * mm, (r + 0.05) * rowMm * mm);
    });
  });
  const rhythmS = Math.min(10, result.seconds);
  drawStrip(ctx, result.leads[1], result.fs, 0, (3 + 0.6) * rowMm * mm, mm, 0, rhythmS);
  ctx.fillStyle = "#111";
  ctx.fillText(`II (rhythm) 0–${rhythmS.toFixed(1)} s`, 1 * mm, (3 + 0.05) * rowMm * mm);
  ctx.restore();
  ctx.font = `${2.5 * mm}px system-ui, sans-serif`;
  ctx.fillText(`${scale < 1 ? "Scaled to fit; " : ""}25 mm/s, 10 mm/mV; the step at the start of each strip is a 1 mV `
    + "calibration pulse.", m, captionTop + 0.5 * mm);
  ctx.font = `bold ${2.8 * mm}px system-ui, sans-serif`;
  for (const [i, line] of wrap(ctx, text.Disclaimer, W - 2 * m).entries()) ctx.fillText(line, m, captionTop + (4 + i * 3.5) * mm);
  return canvas;
}

// PNG tEXt chunks (Latin-1 keyword, NUL, text): inserted after IHDR, before the image data.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function textChunk(keyword, text) {
  // tEXt is Latin-1: characters outside it are replaced, so the chunk stays valid
  const latin1 = (s) => Array.from(s, (ch) => (ch.charCodeAt(0) < 256 ? ch.charCodeAt(0) : 63));
  const body = Uint8Array.from([...Array.from("tEXt", (ch) => ch.charCodeAt(0)), ...latin1(keyword), 0, ...latin1(text)]);
  const chunk = new Uint8Array(body.length + 8);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, body.length - 4);
  chunk.set(body, 4);
  view.setUint32(body.length + 4, crc32(body));
  return chunk;
}
export function withTextChunks(png, text) {
  const ihdrEnd = 8 + 25;  // signature + IHDR (length, type, 13 bytes, CRC)
  const chunks = Object.entries(text).map(([k, v]) => textChunk(k, v));
  const out = new Uint8Array(png.length + chunks.reduce((s, c) => s + c.length, 0));
  out.set(png.subarray(0, ihdrEnd));
  let at = ihdrEnd;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  out.set(png.subarray(ihdrEnd), at);
  return out;
}

export async function reportPng(result, facts, names, notAssessed) {
  const text = reportText(result, facts, names, notAssessed);
  const canvas = drawReport(document.createElement("canvas"), result, text);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const png = withTextChunks(new Uint8Array(await blob.arrayBuffer()), text);
  return { blob: new Blob([png], { type: "image/png" }), text };
}

// The record on ECG paper, readable on a phone held upright: one column of twelve strips, each the whole
// record (not only its first 10 s), 25 mm/s and 10 mm/mV, a 1 mV calibration pulse at the start of every
// strip, and above them the model's windows with the one that drove each finding marked. The lead names
// live in a column outside the scrolling paper, so they stay on screen however far the reader scrolls.
import { STANDARD_LEADS } from "./ecg-parsers.js";

// window bars on white: the ones that drove a finding in the project's red, the others in a grey that still
// keeps 3:1 against white (WCAG 1.4.11 non-text contrast; tested in test_browser.py)
export const WINDOW_COLOURS = { drove: "#b22234", other: "#767b80", background: "#ffffff" };
export const PAPER = { mmPerSecond: 25, mmPerMv: 10, stripMm: 22, pulseSeconds: 0.2, leadInMm: 7, bandMm: 9 };
const MAX_CANVAS_PX = 16384;  // browsers refuse larger canvases (Chrome 32767, Safari smaller); scaled below it

// For each finding, the window whose probability for it was highest: the stretch of ECG that drove it.
export function drivingWindows(result) {
  const classes = Object.keys(result.probabilities);
  return result.labels.map((c) => {
    const j = classes.indexOf(c);
    let best = 0;
    result.window_probabilities.forEach((row, w) => { if (row[j] > result.window_probabilities[best][j]) best = w; });
    return { cls: c, window: best, start_s: result.window_starts_s[best], probability: result.window_probabilities[best][j] };
  });
}

function drawGrid(ctx, x0, y0, width, height, pxPerMm) {
  ctx.fillStyle = "#fff7f7";
  ctx.fillRect(x0, y0, width, height);
  ctx.lineWidth = 1;
  // thin 1-mm lines only when they are at least 2 px apart; the 5-mm lines always (darker: contrast >= 3:1
  // against the paper for the big squares would hide the trace, so the trace is the dark element instead)
  for (const [step, colour] of [[1, "#f4d0d0"], [5, "#e39a9a"]]) {
    if (step === 1 && pxPerMm < 2) continue;
    ctx.strokeStyle = colour;
    ctx.beginPath();
    for (let x = x0; x <= x0 + width + 0.5; x += step * pxPerMm) { ctx.moveTo(x, y0); ctx.lineTo(x, y0 + height); }
    for (let y = y0; y <= y0 + height + 0.5; y += step * pxPerMm) { ctx.moveTo(x0, y); ctx.lineTo(x0 + width, y); }
    ctx.stroke();
  }
}

// One strip: calibration pulse, then the lead's samples from `fromS` for `seconds` (mean-centred).
export function drawStrip(ctx, samples, fs, x0, yMid, pxPerMm, fromS = 0, seconds = Infinity) {
  const mmPx = pxPerMm, mv = PAPER.mmPerMv * mmPx, pulse = PAPER.pulseSeconds * PAPER.mmPerSecond * mmPx;
  ctx.strokeStyle = "#111";
  ctx.lineWidth = Math.max(1, mmPx * 0.35);
  ctx.beginPath();  // the 1 mV pulse: 10 mm high, 5 mm wide, so the reader can check the gain
  ctx.moveTo(x0, yMid); ctx.lineTo(x0 + mmPx, yMid); ctx.lineTo(x0 + mmPx, yMid - mv);
  ctx.lineTo(x0 + mmPx + pulse, yMid - mv); ctx.lineTo(x0 + mmPx + pulse, yMid); ctx.lineTo(x0 + PAPER.leadInMm * mmPx, yMid);
  ctx.stroke();
  const start = Math.max(0, Math.round(fromS * fs)), end = Math.min(samples.length, start + Math.round(seconds * fs));
  if (end <= start) return;
  let mean = 0;
  for (let i = start; i < end; i++) mean += samples[i];
  mean /= end - start;
  const xTrace = x0 + PAPER.leadInMm * mmPx, pxPerSample = PAPER.mmPerSecond * mmPx / fs;
  ctx.beginPath();
  for (let i = start; i < end; i++) {
    const x = xTrace + (i - start) * pxPerSample, y = yMid - (samples[i] - mean) * mv;
    if (i === start) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  }
  ctx.stroke();
}

// Draw `result` (from classify) into `canvas`; `pxPerMm` sets the zoom. Returns what was drawn, for tests.
export function drawRecord(canvas, result, pxPerMm = 1.6) {
  const { leads, fs, seconds } = result;
  const traceMm = PAPER.leadInMm + seconds * PAPER.mmPerSecond + 2;
  const width = Math.ceil(traceMm * pxPerMm), bandPx = PAPER.bandMm * pxPerMm;
  const height = Math.ceil(bandPx + 12 * PAPER.stripMm * pxPerMm);
  const dpr = Math.min(window.devicePixelRatio || 1, MAX_CANVAS_PX / width, MAX_CANVAS_PX / height);
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = WINDOW_COLOURS.background;
  ctx.fillRect(0, 0, width, bandPx);
  drawGrid(ctx, 0, bandPx, width, height - bandPx, pxPerMm);
  const xOf = (s) => (PAPER.leadInMm + s * PAPER.mmPerSecond) * pxPerMm;
  // the model's windows: a light bar each; the ones that drove a finding in the project's red, named
  const windowS = result.window_seconds, driving = drivingWindows(result);
  ctx.font = `${Math.max(11, 3.2 * pxPerMm)}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  result.window_starts_s.forEach((s, w) => {
    const drove = driving.filter((d) => d.window === w);
    ctx.fillStyle = drove.length ? WINDOW_COLOURS.drove : WINDOW_COLOURS.other;
    // edges on whole device pixels: a bar is drawn in exactly its colour, not blended into the band
    const snap = (v) => Math.round(v * dpr) / dpr;
    const x0 = snap(xOf(s)), x1 = snap(Math.max(xOf(s) + 2, xOf(s + Math.min(windowS, seconds)) - 2));
    const y0 = snap(drove.length ? bandPx * 0.55 : bandPx * 0.8), y1 = snap(y0 + bandPx * 0.18);
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    if (drove.length) {
      ctx.fillStyle = "#1c1c1c";
      ctx.fillText(`${drove.map((d) => d.cls).join(", ")}: ${s.toFixed(0)}–${(s + windowS).toFixed(0)} s`, xOf(s) + 2, bandPx * 0.3);
    }
  });
  for (let lead = 0; lead < 12; lead++) {
    const yMid = bandPx + (lead + 0.62) * PAPER.stripMm * pxPerMm;
    drawStrip(ctx, leads[lead], fs, 0, yMid, pxPerMm);
  }
  return { width, height, leads: 12, seconds, driving };
}

// The lead-name column beside the paper: one label per strip, at the strip's height.
export function renderLeadLabels(column, pxPerMm = 1.6) {
  column.replaceChildren(...STANDARD_LEADS.map((name, i) => {
    const label = document.createElement("span");
    label.className = "lead-label";
    label.textContent = name;
    label.style.top = `${PAPER.bandMm * pxPerMm + (i + 0.62) * PAPER.stripMm * pxPerMm - 9}px`;
    return label;
  }));
  column.style.height = `${Math.ceil((PAPER.bandMm + 12 * PAPER.stripMm) * pxPerMm)}px`;
}

// The browser's copy of pocketecg.preprocess: remove the mean -> resample -> band-pass -> per-lead z-score -> windows.
// It follows scipy step by step (resample_poly with its Kaiser FIR, sosfiltfilt with odd padding and
// steady-state initial conditions) so the phone computes the same windows as Python;
// tests/app/test_web_preprocess.py checks the two agree. All arithmetic is float64.

function gcd(a, b) { while (b) { [a, b] = [b, a % b]; } return a; }

// Modified Bessel function of the first kind, order 0 (power series; converges fast for beta = 5).
function besselI0(x) {
  let sum = 1, term = 1;
  for (let k = 1; k < 200; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

// scipy.signal.firwin(numtaps, cutoff, window=('kaiser', beta)): low-pass, cutoff relative to Nyquist.
function firwinKaiser(numtaps, cutoff, beta) {
  const alpha = 0.5 * (numtaps - 1);
  const h = new Float64Array(numtaps);
  const i0beta = besselI0(beta);
  let sum = 0;
  for (let n = 0; n < numtaps; n++) {
    const m = n - alpha;
    const x = cutoff * m;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const r = 2 * n / (numtaps - 1) - 1;
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0beta;
    h[n] = cutoff * sinc * w;
    sum += h[n];
  }
  for (let n = 0; n < numtaps; n++) h[n] /= sum;  // unit gain at 0 Hz, as scale=True
  return h;
}

function upfirdnOutputLength(lenH, nIn, up, down) {
  const nInCopy = nIn + Math.floor((lenH + ((up - (lenH % up)) % up)) / up) - 1;
  const nt = nInCopy * up;
  return Math.floor(nt / down) + (nt % down > 0 ? 1 : 0);
}

// Rational approximation of fsOut / fsIn with denominator <= 1000 (Python's Fraction.limit_denominator).
export function rational(fsIn, fsOut) {
  const target = fsOut / fsIn;
  let best = [Math.round(target), 1], bestErr = Math.abs(target - best[0]);
  for (let q = 1; q <= 1000; q++) {
    const p = Math.round(target * q);
    const err = Math.abs(target - p / q);
    if (err < bestErr - 1e-15) { best = [p, q]; bestErr = err; }
  }
  const g = gcd(best[0], best[1]);
  return [best[0] / g, best[1] / g];
}

// scipy.signal.resample_poly(x, up, down) for one lead (window ('kaiser', 5.0), zero padding).
export function resamplePoly(x, up, down) {
  const g = gcd(up, down); up /= g; down /= g;
  if (up === 1 && down === 1) return Float64Array.from(x);
  const nIn = x.length;
  let nOut = nIn * up;
  nOut = Math.floor(nOut / down) + (nOut % down ? 1 : 0);
  const maxRate = Math.max(up, down);
  const halfLen = 10 * maxRate;
  let h = firwinKaiser(2 * halfLen + 1, 1 / maxRate, 5.0).map((v) => v * up);
  const nPrePad = down - (halfLen % down);
  let nPostPad = 0;
  const nPreRemove = Math.floor((halfLen + nPrePad) / down);
  while (upfirdnOutputLength(h.length + nPrePad + nPostPad, nIn, up, down) < nOut + nPreRemove) nPostPad++;
  const padded = new Float64Array(nPrePad + h.length + nPostPad);
  padded.set(h, nPrePad);
  h = padded;
  const y = new Float64Array(nOut);
  for (let i = 0; i < nOut; i++) {
    const n = (i + nPreRemove) * down;  // index into the upsampled-and-filtered signal
    let acc = 0;
    // k runs over filter taps with (n - k) divisible by up and 0 <= (n - k) / up < nIn
    let k = n % up;
    const kMin = n - (nIn - 1) * up;
    if (k < kMin) k += Math.ceil((kMin - k) / up) * up;
    for (; k < h.length && k <= n; k += up) acc += h[k] * x[(n - k) / up];
    y[i] = acc;
  }
  return y;
}

// scipy.signal.lfilter_zi for one second-order section (a0 = 1).
function sectionZi(b, a) {
  const B0 = b[1] - a[1] * b[0], B1 = b[2] - a[2] * b[0];
  const det = 1 + a[1] + a[2];
  return [(B0 + B1) / det, ((1 + a[1]) * B1 - a[2] * B0) / det];
}

// scipy.signal.sosfilt_zi
export function sosfiltZi(sos) {
  let scale = 1;
  return sos.map((s) => {
    const b = s.slice(0, 3), a = s.slice(3, 6);
    const zi = sectionZi(b, a).map((v) => v * scale);
    scale *= (b[0] + b[1] + b[2]) / (a[0] + a[1] + a[2]);
    return zi;
  });
}

function sosfilt(sos, x, zi, x0) {
  const state = zi.map(([z0, z1]) => [z0 * x0, z1 * x0]);
  const y = new Float64Array(x.length);
  for (let n = 0; n < x.length; n++) {
    let v = x[n];
    for (let s = 0; s < sos.length; s++) {
      const [b0, b1, b2, , a1, a2] = sos[s];
      const z = state[s];
      const out = b0 * v + z[0];
      z[0] = b1 * v - a1 * out + z[1];
      z[1] = b2 * v - a2 * out;
      v = out;
    }
    y[n] = v;
  }
  return y;
}

// scipy.signal.sosfiltfilt(sos, x) with its defaults (odd extension, padlen 3 * ntaps).
export function sosfiltfilt(sos, x) {
  let ntaps = 2 * sos.length + 1;
  ntaps -= Math.min(sos.filter((s) => s[2] === 0).length, sos.filter((s) => s[5] === 0).length);
  const edge = 3 * ntaps;
  if (x.length <= edge) throw new Error(`signal too short to filter (${x.length} samples, need > ${edge})`);
  const n = x.length;
  const ext = new Float64Array(n + 2 * edge);
  for (let i = 0; i < edge; i++) ext[i] = 2 * x[0] - x[edge - i];
  ext.set(x, edge);
  for (let i = 0; i < edge; i++) ext[edge + n + i] = 2 * x[n - 1] - x[n - 2 - i];
  const zi = sosfiltZi(sos);
  const forward = sosfilt(sos, ext, zi, ext[0]);
  const reversed = forward.reverse();
  const backward = sosfilt(sos, reversed, zi, reversed[0]).reverse();
  return backward.slice(edge, edge + n);
}

function zscore(x) {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let sq = 0;
  for (const v of x) sq += (v - mean) ** 2;
  const std = Math.sqrt(sq / x.length);
  // flat or missing (zero-filled) leads stay at zero, as in Python
  return std > 1e-6 ? x.map((v) => (v - mean) / std) : new Float64Array(x.length);
}

export function windowStarts(nSamples, windowSamples, strideSamples) {
  if (nSamples <= windowSamples) return [0];
  const starts = [];
  for (let s = 0; s + windowSamples <= nSamples; s += strideSamples) starts.push(s);
  if (starts[starts.length - 1] + windowSamples < nSamples) starts.push(nSamples - windowSamples);
  return starts;
}

// leads: array of 12 arrays (mV) at fsIn; settings: the model's preprocessing settings plus
// bandpass_sos (rows [b0 b1 b2 a0 a1 a2]) from the ONNX metadata.
// Returns {data: Float32Array(nWindows * 12 * W), nWindows, starts, windowSamples}.
export function preprocess(leads, fsIn, settings, sos) {
  const [up, down] = rational(fsIn, settings.fs);
  const processed = leads.map((lead) => {
    // the mean first, as in Python: resampling pads with zeros, so an offset would ring into the edges
    let mean = 0;
    for (let i = 0; i < lead.length; i++) mean += lead[i];
    mean /= lead.length;
    const centred = Float64Array.from(lead, (v) => v - mean);
    const x = resamplePoly(centred, up, down);
    return settings.normalisation === "zscore" ? zscore(sosfiltfilt(sos, x)) : sosfiltfilt(sos, x);
  });
  const W = Math.round(settings.window_seconds * settings.fs);
  const stride = Math.round(settings.stride_seconds * settings.fs);
  const n = Math.max(processed[0].length, W);
  const starts = windowStarts(n, W, stride);
  const data = new Float32Array(starts.length * leads.length * W);
  starts.forEach((start, w) => {
    processed.forEach((lead, l) => {
      const offset = (w * leads.length + l) * W;
      for (let i = 0; i < W && start + i < lead.length; i++) data[offset + i] = lead[start + i];
    });
  });
  return { data, nWindows: starts.length, starts, windowSamples: W };
}

// node parse_files.mjs FILE [FILE...]: read one record with the browser's readers (readFiles picks the
// reader as the page does), print JSON.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";
import { readFiles } from "../../src/pocketecg/app/web/ecg-parsers.js";

// the page loads dicom-parser as a classic script (window.dicomParser); here the same vendored file
const DICOM_PARSER = new URL("../../src/pocketecg/app/web/vendor/dicomParser.min.js", import.meta.url);
if (existsSync(DICOM_PARSER)) globalThis.dicomParser = createRequire(import.meta.url)(DICOM_PARSER.pathname);
// and the FLAC decoder (window["flac-decoder"] in the page; CommonJS here, beside the npm folder it needs)
const FLAC_DECODER = new URL("../../src/pocketecg/app/web/vendor/flac-decoder.min.js", import.meta.url);
if (existsSync(FLAC_DECODER)) globalThis["flac-decoder"] = createRequire(import.meta.url)(FLAC_DECODER.pathname);

const files = new Map(process.argv.slice(2).map((p) => {
  const b = readFileSync(p);
  return [basename(p), b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)];
}));
try {
  const rec = await readFiles(files, { allowMissing: process.env.ALLOW_MISSING === "1" });
  process.stdout.write(JSON.stringify({ ok: true, fs: rec.fs, units: rec.units, warnings: rec.warnings,
    missing: rec.missing, leads: rec.leads.map((l) => Array.from(l)) }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: e.message }));
}

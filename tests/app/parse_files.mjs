// node parse_files.mjs FILE [FILE...]: read one record with the browser's readers (readFiles picks the
// reader as the page does), print JSON.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { readFiles } from "../../src/pocketecg/app/web/ecg-parsers.js";

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

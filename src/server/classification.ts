/**
 * Triton's classification extension: an output requested with `classification: N`
 * comes back as BYTES holding its N largest values per batch row, each written
 * `"<score>:<index>"` or `"<score>:<index>:<label>"` with the label from the output's
 * `label_filename`. Scores are formatted as Triton's std::to_string does: integers
 * in full, floating-point values with six decimals.
 */
import {
  bf16Value,
  elementCount,
  fp16Value,
  InferenceError,
  packBytes,
  type Datatype,
  type NumericArray,
  type Tensor,
} from '../core/index.js';

type Score = number | bigint;

function formatFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return value.toFixed(6);
}

/** The datatypes whose values rank; BOOL and BYTES do not, as in Triton. */
export function isClassifiable(datatype: Datatype): boolean {
  return datatype !== 'BOOL' && datatype !== 'BYTES';
}

export function unclassifiable(outputName: string, datatype: Datatype): InferenceError {
  return new InferenceError(
    'INVALID_ARG',
    `output '${outputName}': class result not available for output due to unsupported type '${datatype}'`,
  );
}

/**
 * The top `count` classes of each row of `output`. `batched` says that the first
 * dimension is the batch (a model with max_batch_size > 0): each row then ranks on
 * its own and the result has shape [batch, k], otherwise [k], with k the smaller of
 * `count` and the number of values per row.
 */
export function classify(output: Tensor, count: number, batched: boolean, labels: readonly string[] | undefined): Tensor {
  const { datatype } = output;
  if (!isClassifiable(datatype)) throw unclassifiable(output.name, datatype);
  const numeric = output.data as NumericArray;
  const toScore: (i: number) => Score =
    datatype === 'FP16' ? (i) => fp16Value(numeric[i] as number)
    : datatype === 'BF16' ? (i) => bf16Value(numeric[i] as number)
    : (i) => numeric[i];
  const format: (score: Score) => string =
    datatype === 'FP16' || datatype === 'BF16' || datatype === 'FP32' || datatype === 'FP64'
      ? (score) => formatFloat(score as number)
      : (score) => String(score);
  // NaN ranks last; equal scores keep index order.
  const rank = (a: Score, b: Score): number => {
    if (a !== a) return b !== b ? 0 : 1;
    if (b !== b) return -1;
    return a > b ? -1 : a < b ? 1 : 0;
  };

  const rows = batched && output.shape.length > 0 ? output.shape[0] : 1;
  const total = elementCount(output.shape);
  const perRow = rows === 0 ? 0 : total / rows;
  const k = Math.min(count, perRow);
  const strings: string[] = [];
  for (let row = 0; row < rows; row++) {
    const start = row * perRow;
    const indices = Array.from({ length: perRow }, (_, i) => i);
    const scores = indices.map((i) => toScore(start + i));
    indices.sort((a, b) => rank(scores[a], scores[b]) || a - b);
    for (const index of indices.slice(0, k)) {
      const label = labels?.[index];
      strings.push(`${format(scores[index])}:${index}${label ? `:${label}` : ''}`);
    }
  }
  return { name: output.name, datatype: 'BYTES', shape: batched && output.shape.length > 0 ? [rows, k] : [k], data: packBytes(strings) };
}

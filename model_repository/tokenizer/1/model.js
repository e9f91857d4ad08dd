// Splits each text into lower-case words and maps them to the token ids of the
// AFINN-165 vocabulary (vocabulary.txt beside this file, written by
// model_repository/generate.ts with the ids sentiment_onnx's embedding uses). The
// longest vocabulary entry of up to three words wins, so that "not good" is one token
// with its own valence rather than a neutral word and a positive one. Words outside the
// vocabulary are UNKNOWN_ID; the rest of the 128 ids is padding, and words past the
// 128th token are left out.
import { readFileSync } from 'node:fs';

const SEQUENCE_LENGTH = 128;
const UNKNOWN_ID = 1;
const FIRST_WORD_ID = 2;
const WORD = /[\p{L}\p{N}]+(?:['-][\p{L}\p{N}]+)*/gu;

const ids = new Map();
let longestEntry = 1;
const decoder = new TextDecoder();

export function initialize() {
  const entries = readFileSync(new URL('./vocabulary.txt', import.meta.url), 'utf8').split('\n').filter((entry) => entry !== '');
  entries.forEach((entry, k) => {
    ids.set(entry, k + FIRST_WORD_ID);
    longestEntry = Math.max(longestEntry, entry.split(' ').length);
  });
}

/** Writes the token ids of `text` into `into` (zeros, the padding id, are already there). */
function tokenize(text, into) {
  const words = text.toLowerCase().replaceAll('\u2019', "'").match(WORD) ?? [];
  let t = 0;
  for (let i = 0; i < words.length && t < SEQUENCE_LENGTH; ) {
    let id = UNKNOWN_ID;
    let span = 1;
    for (let n = Math.min(longestEntry, words.length - i); n >= 1; n--) {
      const found = ids.get(n === 1 ? words[i] : words.slice(i, i + n).join(' '));
      if (found !== undefined) {
        id = found;
        span = n;
        break;
      }
    }
    into[t++] = id;
    i += span;
  }
}

export function execute(requests) {
  return requests.map(({ inputs }) => {
    const { shape, data } = inputs.TEXT;
    const rows = shape[0];
    const tokens = new Int32Array(rows * SEQUENCE_LENGTH);
    for (let row = 0; row < rows; row++) {
      tokenize(decoder.decode(data[row]), tokens.subarray(row * SEQUENCE_LENGTH, (row + 1) * SEQUENCE_LENGTH));
    }
    return { outputs: { TOKEN_IDS: { shape: [rows, SEQUENCE_LENGTH], data: tokens } } };
  });
}

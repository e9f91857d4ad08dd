/** The example `sentiment` ensemble: raw text → tokenizer (JavaScript) → sentiment_onnx (ONNX) → postprocessor (JavaScript). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSentimentModels } from '../../model_repository/generate.js';
import { FIRST_WORD_ID, SEQUENCE_LENGTH, sentimentVocabulary } from '../../model_repository/sentiment-lexicon.js';
import { InferenceClient } from '../helpers/grpc-client.js';
import { EXAMPLE_REPOSITORY, exampleModels, postJson, startTestServer, type TestServer } from '../helpers/test-server.js';

/** Sentences whose polarity no reader would dispute. */
const SENTENCES: Array<[string, 'positive' | 'negative' | 'neutral']> = [
  ['I love this wonderful movie, the acting was excellent', 'positive'],
  ['What a fantastic and beautiful day, I am so happy', 'positive'],
  ['The hotel staff were friendly and the room was great', 'positive'],
  ['This is a terrible product and I hate it', 'negative'],
  ['The service was awful, rude and disappointing', 'negative'],
  ['The food was not good', 'negative'],
  ['The train leaves at noon from platform four', 'neutral'],
  ['The meeting is scheduled for Tuesday in room twelve', 'neutral'],
  ['', 'neutral'],
];

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer(exampleModels('sentiment'));
});
afterAll(async () => {
  await t?.server.stop();
});

async function classify(texts: string[]): Promise<{ labels: string[]; confidences: number[] }> {
  const { status, json } = await postJson(`${t.url}/v2/models/sentiment/infer`, {
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length, 1], data: texts }],
  });
  expect(status, JSON.stringify(json)).toBe(200);
  const output = (name: string) => json.outputs.find((o: { name: string }) => o.name === name);
  expect(output('label').shape).toEqual([texts.length, 1]);
  return { labels: output('label').data, confidences: output('confidence').data };
}

describe('sentiment ensemble', () => {
  it('loads the three models it uses along with it', () => {
    const ready = t.server.registry.index().filter((e) => e.state === 'READY').map((e) => e.name);
    expect(ready).toEqual(['postprocessor', 'sentiment', 'sentiment_onnx', 'tokenizer']);
  });

  it.each(SENTENCES)('labels %j as %s', async (text, expected) => {
    const { labels, confidences } = await classify([text]);
    expect(labels).toEqual([expected]);
    expect(confidences[0]).toBeGreaterThan(1 / 3);
    expect(confidences[0]).toBeLessThanOrEqual(1);
  });

  it('labels every row of a request of several sentences, in order', async () => {
    const { labels } = await classify(SENTENCES.map(([text]) => text));
    expect(labels).toEqual(SENTENCES.map(([, label]) => label));
  });

  it('labels concurrent requests, each with its own answer', async () => {
    const answers = await Promise.all(SENTENCES.flatMap(([text, label]) => [0, 1, 2].map(async () => [(await classify([text])).labels[0], label])));
    for (const [got, expected] of answers) expect(got).toBe(expected);
  });

  it('answers over gRPC too', async () => {
    const client = new InferenceClient(t.grpcTarget);
    try {
      const response = await client.call('ModelInfer', {
        model_name: 'sentiment',
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [Buffer.from('An amazing, brilliant performance')] } }],
        outputs: [{ name: 'label' }],
      });
      const raw: Buffer = response.raw_output_contents[0];
      expect(raw.subarray(4).toString('utf8')).toBe('positive');
    } finally {
      client.close();
    }
  });

  it('tokenizes phrases of the lexicon as one token, unknown words as 1, and pads with 0', async () => {
    const vocabulary = sentimentVocabulary();
    const { status, json } = await postJson(`${t.url}/v2/models/tokenizer/infer`, {
      inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [1, 1], data: ['Zebras are NOT GOOD, but cool stuff!'] }],
    });
    expect(status).toBe(200);
    const ids: number[] = json.outputs[0].data;
    expect(ids).toHaveLength(SEQUENCE_LENGTH);
    const id = (entry: string) => vocabulary.indexOf(entry) + FIRST_WORD_ID;
    expect(ids.slice(0, 5)).toEqual([1, 1, id('not good'), 1, id('cool stuff')]);
    expect(ids.slice(5).every((v) => v === 0)).toBe(true);
  });

  it('is what the generator writes, byte for byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nereid-sentiment-'));
    try {
      const written = await generateSentimentModels(dir);
      expect(written).toEqual(['sentiment_onnx/config.pbtxt', 'sentiment_onnx/1/model.onnx', 'tokenizer/1/vocabulary.txt']);
      for (const path of written) {
        const fresh = await readFile(join(dir, path));
        expect(fresh.equals(await readFile(join(EXAMPLE_REPOSITORY, path))), `${path} differs from the committed file`).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

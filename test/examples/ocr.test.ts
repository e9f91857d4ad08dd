/**
 * The PaddleOCR example (examples/ocr): its models load, the `ocr` ensemble reads the
 * committed fixture images exactly, and bad images are refused with a 400 naming the step.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packStrings, postBinary, unpackStrings } from '../helpers/binary-http.js';
import { getJson, startTestServer, type TestServer } from '../helpers/test-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const OCR_REPOSITORY = join(here, '../../examples/ocr');
const fixture = (name: string) => readFileSync(join(here, '../fixtures/ocr', name));
const OCR_MODELS = ['ocr_preprocess', 'ocr_det', 'ocr_boxes', 'ocr_cls', 'ocr_rec', 'ocr_recognize', 'ocr'];

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ modelRepositories: [OCR_REPOSITORY] });
}, 120_000);

afterAll(async () => {
  await ts?.server.stop();
});

interface OcrResult {
  status: number;
  json: any;
  text: string[];
  boxes: Float32Array;
  scores: Float32Array;
}

async function readImage(file: Uint8Array): Promise<OcrResult> {
  const image = packStrings([file]);
  const answer = await postBinary(
    `${ts.url}/v2/models/ocr/infer`,
    {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: image.length } }],
      outputs: ['text', 'boxes', 'scores'].map((name) => ({ name, parameters: { binary_data: true } })),
    },
    [image],
  );
  const floats = (name: string) => {
    const bytes = answer.outputs.get(name);
    return bytes ? new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) : new Float32Array();
  };
  const text = answer.outputs.get('text');
  return {
    status: answer.status,
    json: answer.json,
    text: text ? unpackStrings(text).map((t) => t.toString('utf8')) : [],
    boxes: floats('boxes'),
    scores: floats('scores'),
  };
}

describe('examples/ocr', () => {
  it('loads every model of the pipeline from the installed model files', async () => {
    for (const model of OCR_MODELS) {
      expect((await getJson(`${ts.url}/v2/models/${model}/ready`)).status, model).toBe(200);
    }
    const rec = await getJson(`${ts.url}/v2/models/ocr_rec`);
    expect(rec.json.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }]);
    expect(rec.json.outputs).toEqual([
      { name: 'softmax_11.tmp_0', datatype: 'FP32', shape: [-1, -1, 6625] },
      { name: 'ctc_best_class', datatype: 'INT32', shape: [-1, -1] },
      { name: 'ctc_best_probability', datatype: 'FP32', shape: [-1, -1] },
    ]);
  });

  it("adds to ocr_rec each column's best class and its probability, as read from its softmax", async () => {
    // A 64-pixel crop of a ramp: 8 columns of 6625 probabilities.
    const crop = Float32Array.from({ length: 3 * 48 * 64 }, (_, i) => ((i * 37) % 101) / 100);
    const bytes = Buffer.from(crop.buffer);
    const answer = await postBinary(
      `${ts.url}/v2/models/ocr_rec/infer`,
      {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 64], parameters: { binary_data_size: bytes.length } }],
        outputs: ['softmax_11.tmp_0', 'ctc_best_class', 'ctc_best_probability'].map((name) => ({ name, parameters: { binary_data: true } })),
      },
      [bytes],
    );
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    const view = (name: string) => {
      const b = answer.outputs.get(name)!;
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    };
    const probabilities = new Float32Array(view('softmax_11.tmp_0'));
    const classes = new Int32Array(view('ctc_best_class'));
    const best = new Float32Array(view('ctc_best_probability'));
    expect(classes.length).toBe(8);
    expect(probabilities.length).toBe(8 * 6625);
    for (let t = 0; t < 8; t++) {
      const row = probabilities.subarray(t * 6625, (t + 1) * 6625);
      const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
      expect(classes[t], `column ${t}`).toBe(row.indexOf(max));
      expect(best[t], `column ${t}`).toBe(max);
    }
  });

  it('reads one line of text', async () => {
    const result = await readImage(fixture('hello-world.png'));
    expect(result.status, JSON.stringify(result.json)).toBe(200);
    expect(result.text).toEqual(['Hello World']);
    // The text was drawn from x = 20, baseline y = 50, 28 pixels high, in a 320×80 image.
    expect(result.json.outputs.find((o: any) => o.name === 'boxes').shape).toEqual([1, 4, 2]);
    const [x0, y0, x1, y1, x2, y2, x3, y3] = result.boxes;
    expect([x0, x3].every((x) => x > 10 && x < 24)).toBe(true);
    expect([x1, x2].every((x) => x > 150 && x < 200)).toBe(true);
    expect([y0, y1].every((y) => y > 15 && y < 32)).toBe(true);
    expect([y2, y3].every((y) => y > 48 && y < 65)).toBe(true);
    expect(result.scores[0]).toBeGreaterThan(0.5);
    expect(result.scores[0]).toBeLessThanOrEqual(1);
  });

  it('reads several lines in reading order', async () => {
    const result = await readImage(fixture('invoice.png'));
    expect(result.status, JSON.stringify(result.json)).toBe(200);
    expect(result.text).toEqual(['INVOICE 2024-0117', 'Total: 42.50 EUR', 'Thank you']);
    expect(result.boxes.length).toBe(3 * 8);
    const tops = [0, 1, 2].map((k) => result.boxes[k * 8 + 1]);
    expect(tops[0] < tops[1] && tops[1] < tops[2]).toBe(true);
    expect(result.scores.length).toBe(3);
  });

  it('reads a JPEG', async () => {
    const result = await readImage(fixture('port-ready.jpg'));
    expect(result.status, JSON.stringify(result.json)).toBe(200);
    expect(result.text).toEqual(['Port 8000 is ready']);
  });

  it('turns upside-down text before reading it', async () => {
    const result = await readImage(fixture('upside-down.png'));
    expect(result.status, JSON.stringify(result.json)).toBe(200);
    expect(result.text).toEqual(['Batch size 16']);
  });

  it('answers an image without text with no boxes', async () => {
    const result = await readImage(fixture('blank.png'));
    expect(result.status, JSON.stringify(result.json)).toBe(200);
    expect(result.text).toEqual([]);
  });

  it('refuses a corrupt image with a 400 naming ocr_preprocess', async () => {
    const png = fixture('hello-world.png');
    const result = await readImage(png.subarray(0, 100));
    expect(result.status).toBe(400);
    expect(result.json.error).toMatch(/^ensemble 'ocr' step 1 \(model 'ocr_preprocess'\): .*IMAGE cannot be decoded/);
  });

  it('refuses files that are not PNG or JPEG, and empty ones, with a 400', async () => {
    const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
    const asGif = await readImage(gif);
    expect(asGif.status).toBe(400);
    expect(asGif.json.error).toMatch(/ocr_preprocess.*IMAGE is a gif file; PNG and JPEG are accepted/);
    const empty = await readImage(new Uint8Array(0));
    expect(empty.status).toBe(400);
    expect(empty.json.error).toMatch(/ocr_preprocess.*IMAGE is not a PNG or JPEG file .*\(0 bytes\)/);
  });

  it('refuses two images in one request with a 400 naming the input', async () => {
    const image = packStrings([fixture('hello-world.png'), fixture('blank.png')]);
    const answer = await postBinary(
      `${ts.url}/v2/models/ocr/infer`,
      { inputs: [{ name: 'image', datatype: 'BYTES', shape: [2, 1], parameters: { binary_data_size: image.length } }] },
      [image],
    );
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatch(/image/);
  });

  it('answers concurrent requests each with its own text, a bad one failing alone', async () => {
    const files = ['invoice.png', 'hello-world.png', 'port-ready.jpg', 'invoice.png', 'upside-down.png', 'hello-world.png'];
    const expected: Record<string, string[]> = {
      'invoice.png': ['INVOICE 2024-0117', 'Total: 42.50 EUR', 'Thank you'],
      'hello-world.png': ['Hello World'],
      'port-ready.jpg': ['Port 8000 is ready'],
      'upside-down.png': ['Batch size 16'],
    };
    const corrupt = fixture('invoice.png').subarray(0, 200);
    const [bad, ...results] = await Promise.all([readImage(corrupt), ...files.map((file) => readImage(fixture(file)))]);
    expect(bad.status).toBe(400);
    results.forEach((result, k) => {
      expect(result.status, files[k]).toBe(200);
      expect(result.text, files[k]).toEqual(expected[files[k]]);
    });
  });
});

// Decodes each PNG or JPEG file with sharp and resizes it the way @gutenye/ocr-node does
// before detection: to the next multiples of 32 (ocr_det's stride), the image contained
// and centred on black; then the pixels as B, G and R planes of values in [0, 1] for
// ocr_det, and the same pixels as RGBA bytes for ocr_boxes, which cuts the lines out of
// them: a quarter of the size, and a tensor of its own, where one tensor read by two
// steps would be copied on the main thread for the second.
import sharp from 'sharp';

const STRIDE = 32;
/** Larger images would make detection slow and its tensors huge; scale them down first. */
const MAX_SIDE = 4096;

// libvips threads would compete with the server's own threads; one per instance suffices.
sharp.concurrency(1);
sharp.cache(false);

function invalid(message) {
  return Object.assign(new Error(message), { code: 'INVALID_ARG' });
}

async function preprocess(file) {
  let image;
  let metadata;
  try {
    image = sharp(file, { failOn: 'error' });
    metadata = await image.metadata();
  } catch (err) {
    throw invalid(`IMAGE is not a PNG or JPEG file sharp can decode (${file.length} bytes): ${err.message}`);
  }
  const { format, width, height } = metadata;
  if (format !== 'png' && format !== 'jpeg') throw invalid(`IMAGE is a ${format} file; PNG and JPEG are accepted`);
  if (width > MAX_SIDE || height > MAX_SIDE) throw invalid(`IMAGE is ${width}×${height} pixels; at most ${MAX_SIDE} on each side are accepted`);
  const target = { width: Math.max(Math.ceil(width / STRIDE), 1) * STRIDE, height: Math.max(Math.ceil(height / STRIDE), 1) * STRIDE };
  let rgba;
  try {
    rgba = await image.ensureAlpha(1).resize({ ...target, fit: 'contain' }).raw().toBuffer();
  } catch (err) {
    throw invalid(`IMAGE cannot be decoded: ${err.message}`);
  }
  const plane = target.width * target.height;
  const pixels = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    pixels[p] = rgba[4 * p + 2] / 255;
    pixels[plane + p] = rgba[4 * p + 1] / 255;
    pixels[2 * plane + p] = rgba[4 * p] / 255;
  }
  return { pixels, rgba: new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.length), target, size: Int32Array.of(width, height) };
}

export function execute(requests) {
  return Promise.all(
    requests.map(async ({ inputs }) => {
      const { shape, data } = inputs.IMAGE;
      if (shape[0] !== 1) return { error: invalid(`IMAGE has ${shape[0]} files; send one image per request`) };
      try {
        const { pixels, rgba, target, size } = await preprocess(Buffer.from(data[0].buffer, data[0].byteOffset, data[0].byteLength));
        return {
          outputs: {
            PIXELS: { shape: [1, 3, target.height, target.width], data: pixels },
            RGBA: { shape: [1, target.height, target.width, 4], data: rgba },
            IMAGE_SIZE: { shape: [1, 2], data: size },
          },
        };
      } catch (err) {
        return { error: err };
      }
    }),
  );
}

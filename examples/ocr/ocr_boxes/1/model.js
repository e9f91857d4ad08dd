// DB post-processing as @gutenye/ocr-node does it (and PaddleOCR before it): pixels whose
// text probability is over 0.03 form regions; each region's minimum-area rectangle,
// grown by area × 1.5 / perimeter on every side ("unclip"), is a text box. Each box is
// cut out of the detector's input image (its RGBA bytes), straightened, turned upright
// when it is much taller than wide, and scaled to 48 pixels high.
//
// Recognition crops keep their aspect ratio, so their widths differ. Each crop is padded
// on the right, with its background (the median of its border pixels), to the next
// multiple of the config parameter `width_step` (default 32), so that crops of
// concurrent requests often share a width and ocr_rec's dynamic batcher, which merges
// only requests of equal shapes, batches them. Padding more (to the widest crop of a
// batch) would batch more but changes what PP-OCRv4's recognizer reads: its attention
// spans the whole width, and padding a 228-pixel "Thank you" to 640 reads "Thankyou".
// The crops leave as one flat tensor with their padded and their own widths;
// ocr_recognize sends each width's crops to ocr_rec.
import sharp from 'sharp';

const THRESHOLD = 0.03;
const UNCLIP_RATIO = 1.5;
const MIN_SIDE = 3;
const LINE_HEIGHT = 48;
const CLS_WIDTH = 192;
/** ocr_cls and ocr_rec's max_batch_size; boxes past it, in reading order, are left out. */
const MAX_BOXES = 256;

/** Labels 8-connected regions of `mask`; returns, per region, its leftmost and rightmost pixel in each of its rows. */
function regionRows(mask, width, height) {
  const labels = new Int32Array(width * height);
  const regions = [];
  const stack = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = regions.length + 1;
    const region = { top: height, bottom: -1, minX: new Map(), maxX: new Map() };
    regions.push(region);
    labels[start] = label;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop();
      const x = p % width;
      const y = (p - x) / width;
      if (y < region.top) region.top = y;
      if (y > region.bottom) region.bottom = y;
      if (!(region.minX.get(y) <= x)) region.minX.set(y, x);
      if (!(region.maxX.get(y) >= x)) region.maxX.set(y, x);
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = label;
            stack.push(q);
          }
        }
      }
    }
  }
  return regions;
}

/** Andrew's monotone chain; points as [x, y]. */
function convexHull(points) {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return sorted;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** The minimum-area rectangle around a convex hull (one side lies on a hull edge): centre, unit axes and side lengths. */
function minAreaRect(hull) {
  let best;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i];
    const b = hull[(i + 1) % hull.length];
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (length === 0) continue;
    const u = [(b[0] - a[0]) / length, (b[1] - a[1]) / length];
    const n = [-u[1], u[0]];
    let minS = Infinity, maxS = -Infinity, minT = Infinity, maxT = -Infinity;
    for (const p of hull) {
      const s = (p[0] - a[0]) * u[0] + (p[1] - a[1]) * u[1];
      const t = (p[0] - a[0]) * n[0] + (p[1] - a[1]) * n[1];
      minS = Math.min(minS, s); maxS = Math.max(maxS, s);
      minT = Math.min(minT, t); maxT = Math.max(maxT, t);
    }
    const area = (maxS - minS) * (maxT - minT);
    if (!best || area < best.area) {
      const s = (minS + maxS) / 2;
      const t = (minT + maxT) / 2;
      best = { area, center: [a[0] + u[0] * s + n[0] * t, a[1] + u[1] * s + n[1] * t], u, n, width: maxS - minS, height: maxT - minT };
    }
  }
  return best;
}

/** The rectangle's corners as top-left, top-right, bottom-right, bottom-left (the order of PaddleOCR's get_mini_boxes). */
function corners({ center, u, n, width, height }) {
  const hw = width / 2;
  const hh = height / 2;
  const points = [
    [center[0] - u[0] * hw - n[0] * hh, center[1] - u[1] * hw - n[1] * hh],
    [center[0] + u[0] * hw - n[0] * hh, center[1] + u[1] * hw - n[1] * hh],
    [center[0] + u[0] * hw + n[0] * hh, center[1] + u[1] * hw + n[1] * hh],
    [center[0] - u[0] * hw + n[0] * hh, center[1] - u[1] * hw + n[1] * hh],
  ].sort((a, b) => a[0] - b[0]);
  const [left0, left1] = points[1][1] > points[0][1] ? [points[0], points[1]] : [points[1], points[0]];
  const [right0, right1] = points[3][1] > points[2][1] ? [points[2], points[3]] : [points[3], points[2]];
  return [left0, right0, right1, left1];
}

// libvips threads would compete with the server's own threads.
sharp.concurrency(1);
sharp.cache(false);

const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Text boxes (corner lists in the detector's input pixels) in reading order. */
function textBoxes(probabilities, width, height) {
  const mask = new Uint8Array(width * height);
  for (let p = 0; p < mask.length; p++) mask[p] = probabilities[p] > THRESHOLD ? 1 : 0;
  const boxes = [];
  for (const region of regionRows(mask, width, height)) {
    const points = [];
    for (let y = region.top; y <= region.bottom; y++) {
      points.push([region.minX.get(y), y]);
      if (region.maxX.get(y) !== region.minX.get(y)) points.push([region.maxX.get(y), y]);
    }
    const rect = minAreaRect(convexHull(points));
    if (!rect || Math.min(rect.width, rect.height) < MIN_SIDE) continue;
    const grow = (rect.width * rect.height * UNCLIP_RATIO) / (2 * (rect.width + rect.height));
    const grown = { ...rect, width: rect.width + 2 * grow, height: rect.height + 2 * grow };
    if (Math.min(grown.width, grown.height) < MIN_SIDE + 2) continue;
    const box = corners(grown).map(([x, y]) => [Math.min(Math.max(Math.round(x), 0), width), Math.min(Math.max(Math.round(y), 0), height)]);
    if (Math.trunc(distance(box[0], box[1])) <= 3 || Math.trunc(distance(box[0], box[3])) <= 3) continue;
    boxes.push(box);
  }
  // PaddleOCR's sorted_boxes: top to bottom, and left to right within 10 pixels of height.
  boxes.sort((a, b) => a[0][1] - b[0][1] || a[0][0] - b[0][0]);
  for (let i = 0; i < boxes.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      if (Math.abs(boxes[j + 1][0][1] - boxes[j][0][1]) < 10 && boxes[j + 1][0][0] < boxes[j][0][0]) {
        [boxes[j], boxes[j + 1]] = [boxes[j + 1], boxes[j]];
      } else break;
    }
  }
  return boxes.slice(0, MAX_BOXES);
}

/** The line of text a box holds: its corners from the line's top-left, clockwise, and the line's length and height in source pixels. */
function lineOf(box) {
  const width = Math.trunc(Math.max(distance(box[0], box[1]), distance(box[2], box[3])));
  const height = Math.trunc(Math.max(distance(box[0], box[3]), distance(box[1], box[2])));
  // Text much taller than wide reads top to bottom: turn it a quarter counter-clockwise.
  if (height / width >= 1.5) return { quad: [box[1], box[2], box[3], box[0]], length: height, thickness: width };
  return { quad: box, length: width, thickness: height };
}

/** Byte v as ocr_det read it: the float32 nearest v / 255, so that lines are cut from the very values the detector saw. */
const LEVEL = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Bilinear sample of channel `c` of RGBA bytes at (x, y), edges repeated, in [0, 1]. */
function sample(rgba, c, width, height, x, y) {
  x = Math.min(Math.max(x, 0), width - 1);
  y = Math.min(Math.max(y, 0), height - 1);
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const fx = x - x0;
  const fy = y - y0;
  const top = LEVEL[rgba[(y0 * width + x0) * 4 + c]] * (1 - fx) + LEVEL[rgba[(y0 * width + x1) * 4 + c]] * fx;
  const bottom = LEVEL[rgba[(y1 * width + x0) * 4 + c]] * (1 - fx) + LEVEL[rgba[(y1 * width + x1) * 4 + c]] * fx;
  return top * (1 - fy) + bottom * fy;
}

/**
 * The line at the source's resolution, as OpenCV's warpPerspective cuts it (the quad's
 * first corner at pixel (0, 0)), in RGB bytes: the box's pixels themselves when it is
 * axis-aligned.
 */
function cutLine(rgba, width, height, line) {
  const [q0, q1, , q3] = line.quad;
  const rgb = new Uint8Array(line.length * line.thickness * 3);
  for (let v = 0; v < line.thickness; v++) {
    for (let u = 0; u < line.length; u++) {
      const s = u / line.length;
      const t = v / line.thickness;
      const x = q0[0] + (q1[0] - q0[0]) * s + (q3[0] - q0[0]) * t;
      const y = q0[1] + (q1[1] - q0[1]) * s + (q3[1] - q0[1]) * t;
      for (let c = 0; c < 3; c++) rgb[(v * line.length + u) * 3 + c] = Math.round(sample(rgba, c, width, height, x, y) * 255);
    }
  }
  return rgb;
}

/** The line scaled to LINE_HEIGHT high with sharp (as @gutenye/ocr-node does), as B, G, R planes of values in [0, 1]: its width and its pixels. */
async function scaleLine(rgb, line) {
  const { data, info } = await sharp(rgb, { raw: { width: line.length, height: line.thickness, channels: 3 } })
    .resize({ height: LINE_HEIGHT })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const planeSize = LINE_HEIGHT * info.width;
  const planes = new Float32Array(3 * planeSize);
  for (let p = 0; p < planeSize; p++) {
    for (let c = 0; c < 3; c++) planes[c * planeSize + p] = data[p * info.channels + 2 - c] / 255;
  }
  return { width: info.width, planes };
}

/** Writes the scaled line into `into` (3 planes of LINE_HEIGHT rows of `stride`), the rest of each row its background: the median of its border pixels. */
function padLine({ width, planes }, stride, into) {
  for (let c = 0; c < 3; c++) {
    const plane = planes.subarray(c * LINE_HEIGHT * width, (c + 1) * LINE_HEIGHT * width);
    const border = [];
    for (let v = 0; v < LINE_HEIGHT; v++) border.push(plane[v * width], plane[v * width + width - 1]);
    for (let u = 0; u < width; u++) border.push(plane[u], plane[(LINE_HEIGHT - 1) * width + u]);
    border.sort((a, b) => a - b);
    const background = border[border.length >> 1];
    for (let v = 0; v < LINE_HEIGHT; v++) {
      const row = (c * LINE_HEIGHT + v) * stride;
      into.set(plane.subarray(v * width, (v + 1) * width), row);
      into.fill(background, row + width, row + stride);
    }
  }
}

/** PaddleOCR's classifier input: the line scaled to at most CLS_WIDTH wide, values in [-1, 1], zero padded. */
function clsCrop(crop, lineWidth, stride, into) {
  const width = Math.min(CLS_WIDTH, lineWidth);
  for (let r = 0; r < 3 * LINE_HEIGHT; r++) {
    for (let j = 0; j < width; j++) {
      const from = Math.floor((j * lineWidth) / width);
      const to = Math.max(from + 1, Math.floor(((j + 1) * lineWidth) / width));
      let sum = 0;
      for (let i = from; i < to; i++) sum += crop[r * stride + i];
      into[r * CLS_WIDTH + j] = (sum / (to - from) - 0.5) / 0.5;
    }
  }
}

let widthStep = 32;

export function initialize({ config }) {
  const step = config.parameters?.width_step?.string_value;
  if (step !== undefined) {
    widthStep = Number(step);
    if (!Number.isInteger(widthStep) || widthStep < 1) throw new Error(`parameter width_step must be a positive integer, got '${step}'`);
  }
}

export function execute(requests) {
  return Promise.all(requests.map(async ({ inputs }) => {
    const [, height, width] = inputs.RGBA.shape;
    const [, , probHeight, probWidth] = inputs.PROBABILITIES.shape;
    if (probHeight !== height || probWidth !== width) {
      return { error: `PROBABILITIES is ${probWidth}×${probHeight} but RGBA is ${width}×${height}` };
    }
    const rgba = inputs.RGBA.data;
    const boxes = textBoxes(inputs.PROBABILITIES.data, width, height);
    const lines = boxes.map(lineOf);
    const scaled = await Promise.all(lines.map((line) => scaleLine(cutLine(rgba, width, height, line), line)));
    const strides = scaled.map((line) => Math.ceil(line.width / widthStep) * widthStep);
    const crops = new Float32Array(3 * LINE_HEIGHT * strides.reduce((sum, w) => sum + w, 0));
    // ocr_cls refuses an empty batch: an image without text sends it one blank crop.
    const clsCrops = new Float32Array(Math.max(1, lines.length) * 3 * LINE_HEIGHT * CLS_WIDTH);
    let offset = 0;
    scaled.forEach((line, k) => {
      const crop = crops.subarray(offset, offset + 3 * LINE_HEIGHT * strides[k]);
      padLine(line, strides[k], crop);
      clsCrop(crop, line.width, strides[k], clsCrops.subarray(k * 3 * LINE_HEIGHT * CLS_WIDTH));
      offset += crop.length;
    });

    // Back to the image's own pixels: ocr_preprocess centred it, scaled, on the detector's input.
    const [imageWidth, imageHeight] = inputs.IMAGE_SIZE.data;
    const scale = Math.min(width / imageWidth, height / imageHeight);
    const left = Math.floor((width - Math.round(imageWidth * scale)) / 2);
    const top = Math.floor((height - Math.round(imageHeight * scale)) / 2);
    const boxData = new Float32Array(boxes.length * 8);
    boxes.forEach((box, k) =>
      box.forEach(([x, y], c) => {
        boxData[k * 8 + 2 * c] = Math.min(Math.max((x - left) / scale, 0), imageWidth);
        boxData[k * 8 + 2 * c + 1] = Math.min(Math.max((y - top) / scale, 0), imageHeight);
      }),
    );
    return {
      outputs: {
        CROPS: { shape: [crops.length], data: crops },
        CROP_WIDTHS: { shape: [strides.length, 2], data: Int32Array.from(scaled.flatMap((line, k) => [strides[k], line.width])) },
        CLS_CROPS: { shape: [Math.max(1, lines.length), 3, LINE_HEIGHT, CLS_WIDTH], data: clsCrops },
        BOXES: { shape: [boxes.length, 4, 2], data: boxData },
      },
    };
  }));
}

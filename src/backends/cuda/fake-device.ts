/**
 * A fake CUDA device for tests and for development on machines without a GPU: with
 * NEREID_FAKE_CUDA_DEVICES=N the cuda backend places KIND_GPU instances on devices 0..N-1
 * that run the CPU reference, and their "device memory" is host memory shared with the
 * worker (spans with a `sharedBuffer`, as a test's DeviceMemoryOpener hands them out).
 * It exercises everything of the direct device path but CUDA itself: routing, gathering a
 * batch from several requests' regions, scattering outputs, the checks and the errors.
 * Never set it in production: nothing runs on a GPU.
 */
import type { DeviceSpan } from '../../core/index.js';
import type { DenseReference } from './dense-reference.js';
import type { DeviceRunInput, DeviceRunOutput, DenseRunner } from './dense-runner.js';

export const FAKE_CUDA_DEVICES_ENV = 'NEREID_FAKE_CUDA_DEVICES';

/** How many fake devices the environment asks for (0: none, the real devices are used). */
export function fakeCudaDeviceCount(env: NodeJS.ProcessEnv = process.env): number {
  const count = Number(env[FAKE_CUDA_DEVICES_ENV] ?? 0);
  return Number.isSafeInteger(count) && count > 0 ? count : 0;
}

/** The floats a span of fake device memory holds, checked to be memory of `device`. */
function floatsOf(span: DeviceSpan, device: number, what: string): Float32Array {
  if (!span.sharedBuffer) throw new Error(`${what}: the span is not memory of fake CUDA device ${device}`);
  if (span.deviceId !== device) throw new Error(`${what}: the span is memory of CUDA device ${span.deviceId}, the instance runs on device ${device}`);
  const offset = Number(span.pointer);
  if (offset % 4 !== 0 || span.byteSize % 4 !== 0 || offset + span.byteSize > span.sharedBuffer.byteLength) {
    throw new Error(`${what}: span of ${span.byteSize} bytes at ${offset} is not whole floats inside its ${span.sharedBuffer.byteLength}-byte allocation`);
  }
  return new Float32Array(span.sharedBuffer, offset, span.byteSize / 4);
}

export class FakeDeviceRunner implements DenseRunner {
  constructor(
    private readonly reference: DenseReference,
    private readonly device: number,
  ) {}

  async run(rows: number, inputs: Float32Array[]): Promise<Float32Array[]> {
    return this.reference.run(rows, inputs);
  }

  async runDevice(rows: number, inputs: DeviceRunInput[], outputs: DeviceRunOutput[]): Promise<Float32Array[]> {
    // Gather: the requests' spans one after another, as the device's copies do.
    const gathered = inputs.map((input, i) => {
      if (input instanceof Float32Array) return input;
      const parts = input.map((span) => floatsOf(span, this.device, `input ${i}`));
      const batch = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const part of parts) {
        batch.set(part, at);
        at += part.length;
      }
      return batch;
    });
    const results = this.reference.run(rows, gathered);
    return results.map((result, i) => {
      const width = rows > 0 ? result.length / rows : 0;
      for (const { rowStart, span } of outputs[i].scatter) {
        const target = floatsOf(span, this.device, `output ${i}`);
        target.set(result.subarray(rowStart * width, rowStart * width + target.length));
      }
      return outputs[i].host ? result : new Float32Array(0);
    });
  }

  close(): void {}
}

/**
 * A load worker thread: owns its channels and one load loop (concurrency or
 * request rate), records each window and answers the coordinator's messages.
 * Keeping the sockets off the coordinator's thread lets several workers share
 * the load when one event loop cannot keep up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceError } from '../core/index.js';
import { ConcurrencyLoad } from './concurrency-load.js';
import { grpcChannelFactory } from './grpc-channel.js';
import { httpChannelFactory } from './http-channel.js';
import type { ChannelFactory } from './infer-channel.js';
import { RequestRateLoad } from './request-rate-load.js';
import { WindowRecorder } from './window-recorder.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

function channelFactory(): { factory: ChannelFactory; requestCount: number } {
  const requests = init.requests.map((bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const factory = init.protocol === 'grpc' ? grpcChannelFactory(init.endpoint, requests, init.streaming) : httpChannelFactory(init.endpoint, requests);
  return { factory, requestCount: requests.length };
}

try {
  const { factory, requestCount } = channelFactory();
  const recorder = new WindowRecorder();
  // Workers start at different points of the request cycle.
  const offset = (init.index * 7) % requestCount;
  let concurrency: ConcurrencyLoad | undefined;
  let rate: RequestRateLoad | undefined;

  port.on('message', async (message: ToWorker) => {
    try {
      switch (message.type) {
        case 'concurrency':
          if (rate) throw new InferenceError('INTERNAL', 'a worker cannot switch from request-rate to concurrency mode');
          concurrency ??= new ConcurrencyLoad(factory, recorder, requestCount, offset);
          concurrency.setSlots(message.slots);
          recorder.restart(undefined, true);
          break;
        case 'rate':
          if (concurrency) throw new InferenceError('INTERNAL', 'a worker cannot switch from concurrency to request-rate mode');
          rate ??= new RequestRateLoad(factory, recorder, requestCount, offset);
          rate.setRate(message.rate, message.distribution, message.phase, message.seed);
          recorder.restart(undefined, true);
          break;
        case 'collect': {
          rate?.catchUp();
          const window = recorder.take();
          post({ type: 'window', window }, [window.latenciesUs.buffer as ArrayBuffer]);
          break;
        }
        case 'count':
          post({ type: 'count', completed: recorder.completedCount });
          break;
        case 'stop': {
          const abandoned = (await concurrency?.stop(init.drainTimeoutMs)) ?? (await rate?.stop(init.drainTimeoutMs)) ?? 0;
          factory.close();
          post({ type: 'stopped', abandoned, errorCount: recorder.take().errorCount });
          break;
        }
      }
    } catch (err) {
      post({ type: 'failed', message: (err as Error).message });
    }
  });
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'failed', message: (err as Error).message });
}

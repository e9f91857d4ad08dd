// repeat_int32: Triton's decoupled example model, answering as Triton's repeat backend
// does. For a request with IN of n elements it sends n responses, the i-th after waiting
// DELAY[i] ms, with OUT = [IN[i]] and IDX = [i]; then it closes the request with the
// final flag alone (an empty final response, for clients that ask for one). IN of size 0
// gets no response, only the final flag. A request whose IN and DELAY shapes differ, or
// whose WAIT is not one value, gets one error response, final.
//
// execute() returns after WAIT ms, while responses may still be on their way, so that the
// instance takes the next request: the responses of several requests then interleave.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const shapeText = (shape) => `[${shape.join(',')}]`;

/** Response loops still sending, which finalize() waits for. */
const sending = new Set();

export function initialize({ modelName, config }) {
  if (config.model_transaction_policy?.decoupled !== true) {
    throw new Error(`model '${modelName}' sends any number of responses per request: its config.pbtxt needs model_transaction_policy { decoupled: true }`);
  }
  if (config.max_batch_size !== 0) throw new Error(`model '${modelName}' does not batch: max_batch_size must be 0, got ${config.max_batch_size}`);
}

async function respond(sender, values, delays) {
  for (let i = 0; i < values.length; i++) {
    await sleep(delays[i]);
    sender.send({ outputs: { OUT: { shape: [1], data: Int32Array.of(values[i]) }, IDX: { shape: [1], data: Uint32Array.of(i) } } });
  }
  sender.send(undefined, { final: true });
}

export async function execute(requests) {
  let waitMs = 0;
  for (const request of requests) {
    const { IN, DELAY, WAIT } = request.inputs;
    const sender = request.responseSender;
    if (WAIT.data.length !== 1) {
      sender.send({ error: 'unexpected size for WAIT input' }, { final: true });
      continue;
    }
    waitMs = WAIT.data[0];
    if (shapeText(IN.shape) !== shapeText(DELAY.shape)) {
      sender.send({ error: `expected IN and DELAY shape to match, got ${shapeText(IN.shape)} and ${shapeText(DELAY.shape)}` }, { final: true });
      continue;
    }
    // Copies: the inputs are views on the batch's buffers, which belong to this execution.
    const loop = respond(sender, Int32Array.from(IN.data), Uint32Array.from(DELAY.data)).finally(() => sending.delete(loop));
    sending.add(loop);
  }
  await sleep(waitMs);
}

export async function finalize() {
  await Promise.all(sending);
}

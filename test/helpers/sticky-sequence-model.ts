/**
 * A JavaScript sequence model that shows which instance served each request: per instance,
 * the requests seen per CORRID since its START. Outputs: the instance's name, that count,
 * the START flag it was fed and TOTAL_OUT = TOTAL_IN + INPUT, the implicit state the server
 * keeps (also as TOTAL, for the client to see).
 */
export const STICKY_SEQUENCE_MODEL = `let instance = '';
const seen = new Map();
export function initialize(args) { instance = args.instanceName; }
export function execute(requests) {
  return requests.map((request) => {
    const id = String(request.inputs.CORRID.data[0]);
    const start = request.inputs.START.data[0] === 1;
    const count = (start ? 0 : seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    const total = request.inputs.TOTAL_IN.data[0] + request.inputs.INPUT.data[0];
    return {
      outputs: {
        INSTANCE: { shape: [1, 1], data: [instance] },
        SEEN: { shape: [1, 1], data: Int32Array.of(count) },
        STARTED: { shape: [1, 1], data: Int32Array.of(request.inputs.START.data[0]) },
        TOTAL: { shape: [1, 1], data: Int32Array.of(total) },
        TOTAL_OUT: { shape: [1, 1], data: Int32Array.of(total) },
      },
    };
  });
}
`;

/** Its config.pbtxt, with the sequence batcher's strategy block and the instance_group entry given. */
export const stickySequenceConfig = (strategy: string, instanceGroup: string) => `backend: "javascript"
max_batch_size: 4
input [{ name: "INPUT", data_type: TYPE_INT32, dims: [ 1 ] }]
output [
  { name: "INSTANCE", data_type: TYPE_STRING, dims: [ 1 ] },
  { name: "SEEN", data_type: TYPE_INT32, dims: [ 1 ] },
  { name: "STARTED", data_type: TYPE_INT32, dims: [ 1 ] },
  { name: "TOTAL", data_type: TYPE_INT32, dims: [ 1 ] }
]
sequence_batching {
  max_sequence_idle_microseconds: 60000000
  ${strategy}
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
  state [ { input_name: "TOTAL_IN" output_name: "TOTAL_OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
}
instance_group [${instanceGroup}]
`;

/** The `simple` example model (INT32 add/sub, dims [16], max_batch_size 8), for scratch repositories. */

/** Its config.pbtxt under another `name`, with `extra` lines appended. */
export function simpleConfig(name = 'simple', extra = ''): string {
  return `
name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
${extra}
`;
}

/** A JSON inference request of `rows` rows, every value `value`. */
export function simpleRequest(rows = 1, value = 1) {
  return {
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [rows, 16], data: new Array(16 * rows).fill(value) })),
  };
}

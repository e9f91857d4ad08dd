// For each row of class probabilities: the most probable class's label (from the
// `labels` parameter of config.pbtxt) and its probability.
let labels = [];

export function initialize({ config }) {
  labels = config.parameters.labels.string_value.split(',');
}

export function execute(requests) {
  return requests.map(({ inputs }) => {
    const { shape, data } = inputs.PROBABILITIES;
    const [rows, classes] = shape;
    if (classes !== labels.length) return { error: `PROBABILITIES has ${classes} classes but the labels parameter names ${labels.length}` };
    const label = [];
    const confidence = new Float32Array(rows);
    for (let row = 0; row < rows; row++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (data[row * classes + k] > data[row * classes + best]) best = k;
      label.push(labels[best]);
      confidence[row] = data[row * classes + best];
    }
    return { outputs: { LABEL: { shape: [rows, 1], data: label }, CONFIDENCE: { shape: [rows, 1], data: confidence } } };
  });
}

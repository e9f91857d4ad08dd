// Returns INPUT0 as OUTPUT0: the same elements, byte for byte (BYTES data arrives as
// one Uint8Array per element and leaves the same way).
export function execute(requests) {
  return requests.map(({ inputs }) => ({ outputs: { OUTPUT0: { shape: inputs.INPUT0.shape, data: inputs.INPUT0.data } } }));
}

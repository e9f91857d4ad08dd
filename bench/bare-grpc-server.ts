/**
 * The ceiling for gRPC overhead: a bare @grpc/grpc-js server on the same service path
 * that answers every ModelInfer with one fixed ModelInferResponse (and every stream
 * message with one fixed ModelStreamInferResponse), doing none of Nereid's work.
 * Run as its own process: `bare-grpc-server.ts <unary response base64> <stream response base64>`;
 * prints its port, then answers each line on stdin with its CPU use so far
 * (process.cpuUsage() as JSON).
 */
import * as grpc from '@grpc/grpc-js';

const [unaryBase64, streamBase64] = process.argv.slice(2);
const unaryAnswer = Buffer.from(unaryBase64 ?? '', 'base64');
const streamAnswer = Buffer.from(streamBase64 ?? '', 'base64');
const identity = (bytes: Buffer) => bytes;
const method = (name: string, streaming: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/inference.GRPCInferenceService/${name}`,
  requestStream: streaming,
  responseStream: streaming,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

// Channelz off, as Nereid runs it, so that the ratio measures Nereid's own work.
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
server.addService(
  { ModelInfer: method('ModelInfer', false), ModelStreamInfer: method('ModelStreamInfer', true) },
  {
    ModelInfer: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, unaryAnswer),
    ModelStreamInfer: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => call.write(streamAnswer));
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  },
);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${port}\n`);
});
process.stdin.on('data', () => process.stdout.write(`${JSON.stringify(process.cpuUsage())}\n`));

import { describe, expect, it } from 'vitest';
import { serveOptionsFromArgs, SERVE_USAGE } from '../../src/cli/serve-command.js';

describe('nereid serve gRPC flags', () => {
  it("has Triton's names and defaults", () => {
    expect(serveOptionsFromArgs(['--model-repository', '/m'])).toMatchObject({
      allowGrpc: true,
      grpcAddress: '0.0.0.0',
      grpcPort: 8001,
      grpcMaxMessageSize: 2_147_483_647,
      grpcKeepaliveTimeMs: 7_200_000,
      grpcKeepaliveTimeoutMs: 20_000,
    });
    for (const flag of ['--allow-grpc', '--grpc-address', '--grpc-port', '--grpc-max-message-size', '--grpc-keepalive-time', '--grpc-keepalive-timeout']) {
      expect(SERVE_USAGE).toContain(flag);
    }
  });

  it('takes each of them', () => {
    const options = serveOptionsFromArgs([
      '--model-repository=/m',
      '--allow-grpc=false',
      '--grpc-address',
      '::1',
      '--grpc-port=0',
      '--grpc-max-message-size',
      '1048576',
      '--grpc-keepalive-time=60000',
      '--grpc-keepalive-timeout=5000',
    ]);
    expect(options).toMatchObject({
      allowGrpc: false,
      grpcAddress: '::1',
      grpcPort: 0,
      grpcMaxMessageSize: 1048576,
      grpcKeepaliveTimeMs: 60000,
      grpcKeepaliveTimeoutMs: 5000,
    });
  });

  it('names a value out of range', () => {
    expect(() => serveOptionsFromArgs(['--model-repository=/m', '--grpc-port=70000'])).toThrow('--grpc-port must be between 0 and 65535, got 70000');
    expect(() => serveOptionsFromArgs(['--model-repository=/m', '--grpc-max-message-size=0'])).toThrow('--grpc-max-message-size must be positive, got 0');
    expect(() => serveOptionsFromArgs(['--model-repository=/m', '--grpc-keepalive-timeout=-1'])).toThrow('--grpc-keepalive-timeout must be positive, got -1');
  });
});

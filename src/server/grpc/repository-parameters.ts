/**
 * `map<string, ModelRepositoryParameter>` of RepositoryModelLoad → the parameters the
 * registry's load takes, which follow the HTTP form: `config` a JSON string, and each
 * `file:<version>/<name>` override a base64 string (gRPC carries those bytes raw).
 */
import { InferenceError } from '../../core/index.js';
import { int64ToNumber, type Int64 } from './grpc-messages.js';

export interface RepositoryParameterMessage {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'bytes_param';
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  bytes_param?: Uint8Array;
}

export function repositoryParametersFromWire(map: Record<string, RepositoryParameterMessage>): Record<string, unknown> {
  const parameters: Record<string, unknown> = {};
  for (const key in map) {
    // A map entry with only its key decodes as null: a parameter without a value.
    const parameter: RepositoryParameterMessage = map[key] ?? {};
    switch (parameter.parameter_choice) {
      case 'bool_param':
        parameters[key] = parameter.bool_param;
        break;
      case 'int64_param':
        parameters[key] = int64ToNumber(parameter.int64_param!);
        break;
      case 'string_param':
        parameters[key] = parameter.string_param;
        break;
      case 'bytes_param':
        parameters[key] = Buffer.from(parameter.bytes_param!).toString('base64');
        break;
      default:
        throw new InferenceError('INVALID_ARG', `parameter '${key}' has no value; set one of bool_param, int64_param, string_param or bytes_param`);
    }
  }
  return parameters;
}

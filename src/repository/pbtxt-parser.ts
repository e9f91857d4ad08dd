/**
 * A parser for the protobuf text format (config.pbtxt), driven by a protobufjs Type
 * loaded with `keepCase: true` so that field names are the .proto names.
 *
 * The result is a plain object holding only the fields the text sets: enums as their
 * value names, 64-bit integers as numbers, maps as objects keyed by the key's decimal
 * or string form, bytes as Uint8Array. Filling in defaults is the caller's choice.
 */

import protobuf from 'protobufjs';
import { InferenceError } from '../core/index.js';
import { Tokenizer, type Position, type Token } from './pbtxt-tokenizer.js';

export type PlainMessage = Record<string, unknown>;

/** The part of a field the parser reads: protobufjs Fields, and the key and value of a map entry. */
interface FieldSpec {
  name: string;
  type: string;
  repeated: boolean;
  map: boolean;
  keyType?: string;
  resolvedType: protobuf.Type | protobuf.Enum | null;
  partOf: protobuf.OneOf | null;
}

/** A message body being read: a message type, or the entry of a map field. */
interface Scope {
  label: string;
  fields: Record<string, FieldSpec>;
}

const INT32: readonly [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const UINT32: readonly [bigint, bigint] = [0n, 2n ** 32n - 1n];
const INT64: readonly [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const UINT64: readonly [bigint, bigint] = [0n, 2n ** 64n - 1n];
const INTEGER_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: INT32, sint32: INT32, sfixed32: INT32, uint32: UINT32, fixed32: UINT32,
  int64: INT64, sint64: INT64, sfixed64: INT64, uint64: UINT64, fixed64: UINT64,
};
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INTEGER_LITERAL = /^(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/;
const BOOLS = new Map([['true', true], ['True', true], ['t', true], ['false', false], ['False', false], ['f', false]]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isIntegerType(fieldType: string): boolean {
  return Object.hasOwn(INTEGER_RANGES, fieldType);
}

/**
 * Why `value` cannot be held by a field of integer type `fieldType`, or undefined when it
 * can. 64-bit fields become JS numbers, so values beyond 2^53 are refused rather than
 * silently rounded.
 */
export function integerProblem(fieldType: string, value: bigint): string | undefined {
  const [min, max] = INTEGER_RANGES[fieldType];
  if (value < min || value > max) return `${value} is out of range for ${fieldType}`;
  if (value > MAX_SAFE || value < -MAX_SAFE) return `${value} is beyond 2^53 - 1 in magnitude and would lose precision`;
  return undefined;
}

/** The proto3 default of a scalar or enum field: what an absent field reads as. */
export function scalarDefault(field: Pick<FieldSpec, 'type' | 'resolvedType'>): unknown {
  if (field.resolvedType instanceof protobuf.Enum) return Object.keys(field.resolvedType.values)[0];
  if (field.type === 'string') return '';
  if (field.type === 'bytes') return new Uint8Array(0);
  if (field.type === 'bool') return false;
  return 0;
}

/** `ModelEnsembling.Step` for a nested type: the name as written in the .proto's scope. */
export function messageName(type: protobuf.Type): string {
  const parts: string[] = [];
  for (let t: protobuf.ReflectionObject | null = type; t instanceof protobuf.Type; t = t.parent) parts.unshift(t.name);
  return parts.join('.');
}

/** Parses text-format `text` as a message of `type`; errors are INVALID_ARG naming `fileName:line:col`. */
export function parseTextFormat(type: protobuf.Type, text: string, fileName: string): PlainMessage {
  return new TextFormatParser(text, fileName).parseDocument(type);
}

class TextFormatParser {
  private readonly tokens: Tokenizer;
  /** What is being read when the tokenizer fails, so that lexical errors name the field too. */
  private context = '';

  constructor(text: string, private readonly fileName: string) {
    this.tokens = new Tokenizer(text, (at, problem) => this.fail(at, `${this.context}: ${problem}`));
  }

  parseDocument(type: protobuf.Type): PlainMessage {
    return this.parseFields(messageScope(type), undefined);
  }

  /** Reads fields up to the symbol closing `open`, or to the end of input for the document itself. */
  private parseFields(scope: Scope, open: { token: Token; owner: string } | undefined): PlainMessage {
    const message: PlainMessage = {};
    const setAt = new Map<string, Position>();
    const oneofMembers = new Map<string, string>();
    const closer = open?.token.text === '<' ? '>' : '}';
    for (;;) {
      const token = this.peek(scope.label);
      if (token.kind === 'end') {
        if (open) this.fail(open.token, `${open.owner}: '${open.token.text}' is never closed`);
        return message;
      }
      if (open && isSymbol(token, closer)) {
        this.tokens.next();
        return message;
      }
      if (open && (isSymbol(token, '}') || isSymbol(token, '>'))) {
        const { line, col } = open.token;
        this.fail(token, `${open.owner}: expected '${closer}' to close the '${open.token.text}' at ${line}:${col}, got '${token.text}'`);
      }
      this.parseField(scope, message, setAt, oneofMembers);
    }
  }

  private parseField(scope: Scope, message: PlainMessage, setAt: Map<string, Position>, oneofMembers: Map<string, string>): void {
    const name = this.next(scope.label);
    if (name.kind !== 'identifier') this.fail(name, `${scope.label}: expected a field name, got ${describe(name)}`);
    const field = Object.hasOwn(scope.fields, name.text) ? scope.fields[name.text] : undefined;
    if (!field) return this.fail(name, `unknown field '${name.text}' in ${scope.label}`);
    const label = `field '${field.name}' in ${scope.label}`;
    const repeated = field.repeated || field.map;
    if (!repeated) {
      const first = setAt.get(field.name);
      if (first) this.fail(name, `${label}: already set at ${first.line}:${first.col}; only repeated fields may appear more than once`);
      setAt.set(field.name, name);
      if (field.partOf) {
        const other = oneofMembers.get(field.partOf.name);
        if (other) this.fail(name, `${label}: cannot be set together with '${other}', both are in oneof '${field.partOf.name}'`);
        oneofMembers.set(field.partOf.name, field.name);
      }
    }

    // The colon may be left out only before a message value, as protoc allows; a message
    // given to a scalar field falls through to the clearer "expects <type>" error.
    const colon = this.accept(':', label);
    const list = this.peek(label);
    const takesMessage = field.map || field.resolvedType instanceof protobuf.Type;
    if (!colon && !takesMessage && !isSymbol(list, '{') && !isSymbol(list, '<')) {
      this.fail(list, `${label}: expected ':' after the field name, got ${describe(list)}`);
    }
    if (isSymbol(list, '[')) {
      if (!repeated) this.fail(list, `${label}: a list [...] is allowed only for repeated fields`);
      this.tokens.next();
      message[field.name] ??= field.map ? {} : [];
      if (!this.accept(']', label)) {
        do this.readValue(field, label, message);
        while (this.accept(',', label));
        const close = this.next(label);
        if (close.kind === 'end') this.fail(list, `${label}: '[' is never closed`);
        if (!isSymbol(close, ']')) this.fail(close, `${label}: expected ',' or ']' in the list, got ${describe(close)}`);
      }
    } else {
      this.readValue(field, label, message);
    }
    if (!this.accept(',', scope.label)) this.accept(';', scope.label);
  }

  /** Reads one value of `field` and stores it in `message`: set, appended, or added to the map. */
  private readValue(field: FieldSpec, label: string, message: PlainMessage): void {
    if (field.map) {
      const entryScope = mapEntryScope(field, label);
      const entry = this.parseMessage(entryScope, label);
      const { key: keyField, value: valueField } = entryScope.fields;
      const key = String(entry.key ?? scalarDefault(keyField));
      const value = entry.value ?? (valueField.resolvedType instanceof protobuf.Type ? {} : scalarDefault(valueField));
      const map = (message[field.name] ??= {}) as PlainMessage;
      // defineProperty, since a map key such as "__proto__" must stay an ordinary key.
      Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
      return;
    }
    const value = field.resolvedType instanceof protobuf.Type
      ? this.parseMessage(messageScope(field.resolvedType), label)
      : this.parseScalar(field, label);
    if (field.repeated) ((message[field.name] ??= []) as unknown[]).push(value);
    else message[field.name] = value;
  }

  private parseMessage(scope: Scope, owner: string): PlainMessage {
    const open = this.next(owner);
    if (!isSymbol(open, '{') && !isSymbol(open, '<')) this.fail(open, `${owner}: expects a message '{ ... }', got ${describe(open)}`);
    return this.parseFields(scope, { token: open, owner });
  }

  private parseScalar(field: FieldSpec, label: string): unknown {
    const first = this.next(label);
    const wrongType = (): never => this.fail(first, `${label}: expects ${expectedValue(field)}, got ${describe(first)}`);
    if (field.resolvedType instanceof protobuf.Enum) {
      const enumType = field.resolvedType;
      if (first.kind === 'identifier') {
        if (Object.hasOwn(enumType.values, first.text)) return first.text;
        return this.fail(first, `${label}: '${first.text}' is not a value of enum ${enumType.name}`);
      }
      const number = this.signedInteger(first, label) ?? wrongType();
      return enumType.valuesById[Number(number)] ?? this.fail(first, `${label}: ${number} is not a value of enum ${enumType.name}`);
    }
    if (field.type === 'string' || field.type === 'bytes') {
      if (first.kind !== 'string') return wrongType();
      const parts = [first.bytes];
      for (let next = this.peek(label); next.kind === 'string'; next = this.peek(label)) {
        parts.push(next.bytes);
        this.tokens.next();
      }
      const bytes = Buffer.concat(parts);
      if (field.type === 'bytes') return new Uint8Array(bytes);
      try {
        return utf8.decode(bytes);
      } catch {
        return this.fail(first, `${label}: string is not valid UTF-8`);
      }
    }
    if (field.type === 'bool') {
      if (first.kind === 'identifier' && BOOLS.has(first.text)) return BOOLS.get(first.text);
      if (first.kind === 'number' && (first.text === '0' || first.text === '1')) return first.text === '1';
      return wrongType();
    }
    if (field.type === 'float' || field.type === 'double') {
      const negative = isSymbol(first, '-');
      const token = negative ? this.next(label) : first;
      let value: number;
      if (token.kind === 'identifier' && /^(?:inf|infinity|nan)$/i.test(token.text)) {
        value = /^nan$/i.test(token.text) ? NaN : Infinity;
      } else if (token.kind === 'number') {
        value = INTEGER_LITERAL.test(token.text) ? Number(integerLiteral(token.text)) : parseFloat(token.text);
      } else {
        return wrongType();
      }
      return negative ? -value : value;
    }
    const value = this.signedInteger(first, label) ?? wrongType();
    const problem = integerProblem(field.type, value);
    if (problem) this.fail(first, `${label}: ${problem}`);
    return Number(value);
  }

  /** An integer literal starting at `first` (which may be a '-'), or undefined if `first` starts none. */
  private signedInteger(first: Token, label: string): bigint | undefined {
    const negative = isSymbol(first, '-');
    const token = negative ? this.peek(label) : first;
    if (token.kind !== 'number' || !INTEGER_LITERAL.test(token.text)) return undefined;
    if (negative) this.tokens.next();
    const value = integerLiteral(token.text);
    return negative ? -value : value;
  }

  private accept(symbol: string, context: string): boolean {
    if (!isSymbol(this.peek(context), symbol)) return false;
    this.tokens.next();
    return true;
  }

  private peek(context: string): Token {
    this.context = context;
    return this.tokens.peek();
  }

  private next(context: string): Token {
    this.context = context;
    return this.tokens.next();
  }

  private fail(at: Position, problem: string): never {
    throw new InferenceError('INVALID_ARG', `${this.fileName}:${at.line}:${at.col}: ${problem}`);
  }
}

function messageScope(type: protobuf.Type): Scope {
  return { label: `message ${messageName(type)}`, fields: type.fields };
}

function mapEntryScope(field: FieldSpec, label: string): Scope & { fields: { key: FieldSpec; value: FieldSpec } } {
  const entryField = { repeated: false, map: false, partOf: null };
  return {
    label: `map entry of ${label}`,
    fields: {
      key: { ...entryField, name: 'key', type: field.keyType ?? 'string', resolvedType: null },
      value: { ...entryField, name: 'value', type: field.type, resolvedType: field.resolvedType },
    },
  };
}

/** Decimal, hex (0x1F) or octal (017), as protoc reads them. */
function integerLiteral(text: string): bigint {
  return text.length > 1 && text[0] === '0' && !/[xX]/.test(text) ? BigInt(`0o${text.slice(1)}`) : BigInt(text);
}

function isSymbol(token: Token, symbol: string): boolean {
  return token.kind === 'symbol' && token.text === symbol;
}

function expectedValue(field: FieldSpec): string {
  return field.resolvedType instanceof protobuf.Enum ? `a value of enum ${field.resolvedType.name}` : field.type;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'end of file';
    case 'symbol':
      return token.text === '{' || token.text === '<' ? 'a message' : `'${token.text}'`;
    case 'invalid':
      return `invalid token '${token.text}'`;
    default:
      return `${token.kind} ${token.text}`;
  }
}

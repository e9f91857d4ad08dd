import { describe, it, expect } from 'vitest';
import protobuf from 'protobufjs';
import { InferenceError } from '../../src/core/index.js';
import { parseTextFormat } from '../../src/repository/pbtxt-parser.js';

// A schema with one field of every kind the parser distinguishes, so that the parser
// is tested as the generic text-format reader it is, apart from ModelConfig.
const SCHEMA = `
syntax = "proto3";
package t;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Inner { int32 a = 1; repeated string tags = 2; }
message All {
  int32 i32 = 1; uint32 u32 = 2; int64 i64 = 3; uint64 u64 = 4; sint32 s32 = 5;
  float f = 6; double d = 7; bool b = 8; string s = 9; bytes by = 10; Color color = 11;
  Inner inner = 12; repeated Inner inners = 13; repeated int64 nums = 14; repeated Color colors = 15;
  map<string, Inner> by_name = 16; map<uint64, string> by_id = 17; map<bool, int32> by_flag = 18;
  oneof choice { string c1 = 19; Inner c2 = 20; }
  repeated string words = 21; repeated double ds = 22; repeated bool bs = 23;
}
`;
const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
root.resolveAll();
const All = root.lookupType('t.All');

const parse = (text: string) => parseTextFormat(All, text, 'test.pbtxt');

function errorOf(text: string): InferenceError {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(InferenceError);
    expect((err as InferenceError).code).toBe('INVALID_ARG');
    return err as InferenceError;
  }
  throw new Error(`no error for: ${text}`);
}

const messageOf = (text: string) => errorOf(text).message;

describe('text format syntax', () => {
  it('reads an empty document, whitespace and # comments', () => {
    expect(parse('')).toEqual({});
    expect(parse('  # only a comment\n\t\r\n')).toEqual({});
    expect(parse('i32: 1 # trailing comment\n# full line\ns: "a#b" # a # in a string is text')).toEqual({ i32: 1, s: 'a#b' });
  });

  it('reads nested messages with or without a colon, in braces or angle brackets', () => {
    expect(parse('inner { a: 1 }')).toEqual({ inner: { a: 1 } });
    expect(parse('inner: { a: 1 }')).toEqual({ inner: { a: 1 } });
    expect(parse('inner < a: 1 >')).toEqual({ inner: { a: 1 } });
    expect(parse('inner: < tags: "x" >')).toEqual({ inner: { tags: ['x'] } });
    expect(parse('inner {}')).toEqual({ inner: {} });
  });

  it('reads repeated fields as repeated entries, as lists, and both mixed', () => {
    expect(parse('nums: 1 nums: 2')).toEqual({ nums: [1, 2] });
    expect(parse('nums: [1, 2, 3]')).toEqual({ nums: [1, 2, 3] });
    expect(parse('nums: [1] nums: 2 nums: [3, 4]')).toEqual({ nums: [1, 2, 3, 4] });
    expect(parse('nums: []')).toEqual({ nums: [] });
    expect(parse('words: ["a", \'b\']')).toEqual({ words: ['a', 'b'] });
  });

  it('reads lists of messages, with or without a colon', () => {
    const expected = { inners: [{ a: 1 }, { a: 2 }] };
    expect(parse('inners [ { a: 1 }, { a: 2 } ]')).toEqual(expected);
    expect(parse('inners: [ { a: 1 }, < a: 2 > ]')).toEqual(expected);
    expect(parse('inners { a: 1 } inners { a: 2 }')).toEqual(expected);
  });

  it('accepts , and ; between fields', () => {
    expect(parse('i32: 1, u32: 2; s: "x",')).toEqual({ i32: 1, u32: 2, s: 'x' });
    expect(parse('inner { a: 1; tags: "t", }')).toEqual({ inner: { a: 1, tags: ['t'] } });
  });

  it('reads enums by name and by number', () => {
    expect(parse('color: GREEN')).toEqual({ color: 'GREEN' });
    expect(parse('color: 2')).toEqual({ color: 'BLUE' });
    expect(parse('colors: [RED, 1, BLUE]')).toEqual({ colors: ['RED', 'GREEN', 'BLUE'] });
  });

  it('sets oneof members', () => {
    expect(parse('c1: "x"')).toEqual({ c1: 'x' });
    expect(parse('c2 { a: 3 }')).toEqual({ c2: { a: 3 } });
  });
});

describe('text format values', () => {
  it('reads strings in double or single quotes with C escapes', () => {
    expect(parse(`s: 'it\\'s "quoted"'`)).toEqual({ s: `it's "quoted"` });
    expect(parse(`s: "tab\\tnl\\ncr\\rbs\\\\dq\\"sq\\'q\\?"`)).toEqual({ s: 'tab\tnl\ncr\rbs\\dq"sq\'q?' });
    expect(parse(`s: "\\a\\b\\f\\v"`)).toEqual({ s: '\x07\b\f\v' });
    expect(parse(`s: "\\x41\\x4a\\x7"`)).toEqual({ s: 'AJ\x07' });
    expect(parse(`s: "\\101\\60\\0"`)).toEqual({ s: 'A0\0' });
    expect(parse(`s: "\\u00e9\\U0001F600"`)).toEqual({ s: 'é😀' });
    expect(parse('s: "héllo ☃"')).toEqual({ s: 'héllo ☃' });
  });

  it('joins adjacent strings', () => {
    expect(parse(`s: "a" 'b'\n  "c"`)).toEqual({ s: 'abc' });
    expect(parse('words: ["a" "b", "c"]')).toEqual({ words: ['ab', 'c'] });
  });

  it('keeps escaped bytes as bytes in a bytes field, and decodes escaped UTF-8 in a string field', () => {
    expect(parse(`by: "\\xff\\000A"`)).toEqual({ by: new Uint8Array([0xff, 0, 0x41]) });
    expect(parse(`s: "\\xc3\\xa9"`)).toEqual({ s: 'é' });
  });

  it('reads decimal, hex, octal and negative integers', () => {
    expect(parse('i32: 42 u32: 0x1F s32: -7 i64: 017')).toEqual({ i32: 42, u32: 31, s32: -7, i64: 15 });
    expect(parse('i32: -2147483648 u32: 4294967295')).toEqual({ i32: -2147483648, u32: 4294967295 });
    expect(parse('i32: - 0x10')).toEqual({ i32: -16 });
  });

  it('reads 64-bit integers as numbers up to 2^53 - 1', () => {
    expect(parse('i64: -9007199254740991 u64: 9007199254740991')).toEqual({ i64: -9007199254740991, u64: 9007199254740991 });
    expect(typeof parse('i64: 5').i64).toBe('number');
  });

  it('reads floats, integers given to floats, inf and nan', () => {
    expect(parse('f: 1.5 d: -2e3')).toEqual({ f: 1.5, d: -2000 });
    expect(parse('ds: [.5, 1e-2, 3, 2.5f, 1E2, 0x10]')).toEqual({ ds: [0.5, 0.01, 3, 2.5, 100, 16] });
    expect(parse('ds: [inf, -inf, Infinity, -INF]')).toEqual({ ds: [Infinity, -Infinity, Infinity, -Infinity] });
    expect(parse('d: nan').d).toBeNaN();
    expect(parse('d: -NaN').d).toBeNaN();
  });

  it('reads bools in every spelling protoc accepts', () => {
    expect(parse('bs: [true, True, t, 1, false, False, f, 0]')).toEqual({
      bs: [true, true, true, true, false, false, false, false],
    });
  });

  it('reads map fields written as repeated key/value entries', () => {
    expect(parse('by_name { key: "x" value { a: 1 } } by_name: { key: "y", value: < a: 2 > }')).toEqual({
      by_name: { x: { a: 1 }, y: { a: 2 } },
    });
    expect(parse('by_name [ { key: "x" value { a: 1 } }, { key: "y" value {} } ]')).toEqual({
      by_name: { x: { a: 1 }, y: {} },
    });
  });

  it('keys maps by the decimal form of integer keys and by true/false for bool keys', () => {
    expect(parse('by_id { key: 0x10 value: "a" } by_id { key: 7 value: "b" }')).toEqual({ by_id: { 16: 'a', 7: 'b' } });
    expect(parse('by_flag { key: true value: 1 } by_flag { key: f value: 2 }')).toEqual({ by_flag: { true: 1, false: 2 } });
  });

  it('fills a missing map key or value with its default, and lets a later entry replace an earlier one', () => {
    expect(parse('by_id { value: "zero" } by_name { key: "k" }')).toEqual({ by_id: { 0: 'zero' }, by_name: { k: {} } });
    expect(parse('by_id { key: 1 value: "a" } by_id { key: 1 value: "b" }')).toEqual({ by_id: { 1: 'b' } });
  });

  it('keeps a map key named __proto__ as an ordinary key', () => {
    const parsed = parse('by_name { key: "__proto__" value { a: 1 } }');
    const map = parsed.by_name as Record<string, unknown>;
    expect(Object.keys(map)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
  });
});

describe('text format errors name file:line:col and the field', () => {
  it('rejects an unknown field', () => {
    expect(messageOf('i32: 1\n  nope: 2')).toBe("test.pbtxt:2:3: unknown field 'nope' in message All");
    expect(messageOf('inner { b: 1 }')).toBe("test.pbtxt:1:9: unknown field 'b' in message Inner");
    expect(messageOf('by_name { key: "x" val: {} }')).toBe(
      "test.pbtxt:1:20: unknown field 'val' in map entry of field 'by_name' in message All",
    );
  });

  it('rejects a value of the wrong type', () => {
    expect(messageOf('i32: "8"')).toBe(`test.pbtxt:1:6: field 'i32' in message All: expects int32, got string "8"`);
    expect(messageOf('i32: 1.5')).toBe("test.pbtxt:1:6: field 'i32' in message All: expects int32, got number 1.5");
    expect(messageOf('s: abc')).toBe("test.pbtxt:1:4: field 's' in message All: expects string, got identifier abc");
    expect(messageOf('b: 2')).toBe("test.pbtxt:1:4: field 'b' in message All: expects bool, got number 2");
    expect(messageOf('f: "1"')).toBe(`test.pbtxt:1:4: field 'f' in message All: expects float, got string "1"`);
    expect(messageOf('color: "RED"')).toBe(`test.pbtxt:1:8: field 'color' in message All: expects a value of enum Color, got string "RED"`);
  });

  it('rejects a message given to a scalar field, and a scalar given to a message field', () => {
    expect(messageOf('i32 { }')).toBe("test.pbtxt:1:5: field 'i32' in message All: expects int32, got a message");
    expect(messageOf('s: { }')).toBe("test.pbtxt:1:4: field 's' in message All: expects string, got a message");
    expect(messageOf('inner: 5')).toBe("test.pbtxt:1:8: field 'inner' in message All: expects a message '{ ... }', got number 5");
    expect(messageOf('by_name: "x"')).toBe(`test.pbtxt:1:10: field 'by_name' in message All: expects a message '{ ... }', got string "x"`);
  });

  it('rejects a bad enum name or number', () => {
    expect(messageOf('\ncolor: PURPLE')).toBe("test.pbtxt:2:8: field 'color' in message All: 'PURPLE' is not a value of enum Color");
    expect(messageOf('colors: [RED, 9]')).toBe("test.pbtxt:1:15: field 'colors' in message All: 9 is not a value of enum Color");
  });

  it('rejects an unterminated string', () => {
    expect(messageOf('i32: 1\ns: "abc')).toBe("test.pbtxt:2:4: field 's' in message All: unterminated string");
    expect(messageOf('inner { tags: \'a\n\' }')).toBe("test.pbtxt:1:15: field 'tags' in message Inner: unterminated string");
  });

  it('rejects an unterminated message or list, at its opening symbol', () => {
    expect(messageOf('inner {\n  a: 1\n')).toBe("test.pbtxt:1:7: field 'inner' in message All: '{' is never closed");
    expect(messageOf('inners [ { a: 1 }, < a: 2')).toBe("test.pbtxt:1:20: field 'inners' in message All: '<' is never closed");
    expect(messageOf('nums: [1, 2')).toBe("test.pbtxt:1:7: field 'nums' in message All: '[' is never closed");
    expect(messageOf('inner { a: 1 >')).toBe("test.pbtxt:1:14: field 'inner' in message All: expected '}' to close the '{' at 1:7, got '>'");
    expect(messageOf('nums: [1 2]')).toBe("test.pbtxt:1:10: field 'nums' in message All: expected ',' or ']' in the list, got number 2");
    expect(messageOf('i32: 1 }')).toBe("test.pbtxt:1:8: message All: expected a field name, got '}'");
  });

  it('rejects a non-repeated field given twice', () => {
    expect(messageOf('i32: 1\ni32: 2')).toBe(
      "test.pbtxt:2:1: field 'i32' in message All: already set at 1:1; only repeated fields may appear more than once",
    );
    expect(messageOf('inner { a: 1 } inner { a: 2 }')).toBe(
      "test.pbtxt:1:16: field 'inner' in message All: already set at 1:1; only repeated fields may appear more than once",
    );
    expect(messageOf('by_name { key: "a" key: "b" }')).toBe(
      "test.pbtxt:1:20: field 'key' in map entry of field 'by_name' in message All: already set at 1:11; only repeated fields may appear more than once",
    );
  });

  it('rejects two members of one oneof', () => {
    expect(messageOf('c1: "x"\nc2 {}')).toBe(
      "test.pbtxt:2:1: field 'c2' in message All: cannot be set together with 'c1', both are in oneof 'choice'",
    );
  });

  it('rejects integers out of range for their type', () => {
    expect(messageOf('i32: 2147483648')).toBe("test.pbtxt:1:6: field 'i32' in message All: 2147483648 is out of range for int32");
    expect(messageOf('i32: -2147483649')).toBe("test.pbtxt:1:6: field 'i32' in message All: -2147483649 is out of range for int32");
    expect(messageOf('u32: -1')).toBe("test.pbtxt:1:6: field 'u32' in message All: -1 is out of range for uint32");
    expect(messageOf('u64: 18446744073709551616')).toBe(
      "test.pbtxt:1:6: field 'u64' in message All: 18446744073709551616 is out of range for uint64",
    );
  });

  it('rejects 64-bit integers that a JS number cannot hold exactly', () => {
    expect(messageOf('nums: [1, 9007199254740992]')).toBe(
      "test.pbtxt:1:11: field 'nums' in message All: 9007199254740992 is beyond 2^53 - 1 in magnitude and would lose precision",
    );
    expect(messageOf('i64: -0x20000000000000')).toBe(
      "test.pbtxt:1:6: field 'i64' in message All: -9007199254740992 is beyond 2^53 - 1 in magnitude and would lose precision",
    );
  });

  it('rejects a scalar without a colon, and a list for a non-repeated field', () => {
    expect(messageOf('i32 5')).toBe("test.pbtxt:1:5: field 'i32' in message All: expected ':' after the field name, got number 5");
    expect(messageOf('i32: [1]')).toBe("test.pbtxt:1:6: field 'i32' in message All: a list [...] is allowed only for repeated fields");
  });

  it('rejects malformed tokens', () => {
    expect(messageOf('i32: 1\n@')).toBe("test.pbtxt:2:1: message All: expected a field name, got invalid token '@'");
    expect(messageOf('i32: 12ab')).toBe("test.pbtxt:1:6: field 'i32' in message All: expects int32, got invalid token '12ab'");
    expect(messageOf('d: 1.2.3')).toBe("test.pbtxt:1:4: field 'd' in message All: expects double, got invalid token '1.2.3'");
    expect(messageOf('i32: 1 s: "x" "y\n')).toBe("test.pbtxt:1:15: field 's' in message All: unterminated string");
    expect(messageOf('i32: 1 "y')).toBe("test.pbtxt:1:8: message All: unterminated string");
    expect(messageOf('s: "a\\qb"')).toBe("test.pbtxt:1:6: field 's' in message All: invalid escape '\\q' in string");
    expect(messageOf('s: "\\777"')).toBe("test.pbtxt:1:5: field 's' in message All: octal escape '\\777' is larger than one byte");
    expect(messageOf('s: "\\xzz"')).toBe("test.pbtxt:1:5: field 's' in message All: escape '\\x' needs 1 or 2 hex digits");
    expect(messageOf('s: "\\xff"')).toBe("test.pbtxt:1:4: field 's' in message All: string is not valid UTF-8");
  });
});

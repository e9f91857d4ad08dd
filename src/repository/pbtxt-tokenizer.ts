/** Tokens of the protobuf text format (config.pbtxt), with 1-based line and column. */

export interface Position {
  line: number;
  col: number;
}

export type Token = Position &
  (
    // 'invalid' is text that starts no token ('@', '12ab'): the parser reports it where
    // it expected something, so that the error names the field being read.
    | { kind: 'identifier' | 'number' | 'symbol' | 'invalid' | 'end'; text: string }
    // Text-format strings are byte strings: `\xNN` and octal escapes denote bytes, so
    // the decoded value is kept as bytes and only the parser, knowing whether the
    // field is `string` or `bytes`, turns it into text.
    | { kind: 'string'; text: string; bytes: Uint8Array }
  );

/** Reports a lexical error at a position; never returns. */
export type LexFailure = (at: Position, problem: string) => never;

const SYMBOLS = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-']);
const SIMPLE_ESCAPES: Record<string, number> = {
  n: 0x0a, t: 0x09, r: 0x0d, a: 0x07, b: 0x08, f: 0x0c, v: 0x0b,
  '\\': 0x5c, "'": 0x27, '"': 0x22, '?': 0x3f,
};
const NUMBER = /(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?[fF]?|\.\d+(?:[eE][+-]?\d+)?[fF]?)/y;
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y;
const WORD_REST = /[A-Za-z0-9_.]+/y;
const utf8 = new TextEncoder();

/** Splits text-format source into tokens on demand, one token of lookahead. */
export class Tokenizer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private lookahead: Token | undefined;

  constructor(
    private readonly text: string,
    private readonly fail: LexFailure,
  ) {}

  peek(): Token {
    this.lookahead ??= this.read();
    return this.lookahead;
  }

  next(): Token {
    const token = this.peek();
    this.lookahead = undefined;
    return token;
  }

  private read(): Token {
    this.skipSpaceAndComments();
    const at = { line: this.line, col: this.pos - this.lineStart + 1 };
    if (this.pos >= this.text.length) return { ...at, kind: 'end', text: '' };
    const c = this.text[this.pos];
    if (c === '"' || c === "'") return this.readString(at, c);
    if (SYMBOLS.has(c)) {
      this.pos++;
      return { ...at, kind: 'symbol', text: c };
    }
    const number = this.match(NUMBER);
    if (number !== undefined) {
      const rest = this.match(WORD_REST) ?? '';
      return { ...at, kind: rest ? 'invalid' : 'number', text: number + rest };
    }
    const identifier = this.match(IDENTIFIER);
    if (identifier !== undefined) return { ...at, kind: 'identifier', text: identifier };
    this.pos++;
    return { ...at, kind: 'invalid', text: c };
  }

  private match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.pos;
    const m = pattern.exec(this.text);
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  private skipSpaceAndComments(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.pos++;
      } else if (c === '#') {
        const end = this.text.indexOf('\n', this.pos);
        this.pos = end < 0 ? this.text.length : end;
      } else {
        return;
      }
    }
  }

  private readString(at: Position, quote: string): Token {
    const start = this.pos++;
    const bytes: number[] = [];
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') return this.fail(at, 'unterminated string');
      if (c === quote) break;
      if (c !== '\\') {
        let end = this.pos;
        while (end < this.text.length && !['\\', '\n', quote].includes(this.text[end])) end++;
        for (const byte of utf8.encode(this.text.slice(this.pos, end))) bytes.push(byte);
        this.pos = end;
        continue;
      }
      for (const byte of this.readEscape()) bytes.push(byte);
    }
    this.pos++;
    return { ...at, kind: 'string', text: this.text.slice(start, this.pos), bytes: Uint8Array.from(bytes) };
  }

  /** Reads one backslash escape at the cursor and returns the bytes it stands for. */
  private readEscape(): Iterable<number> {
    const at = { line: this.line, col: this.pos - this.lineStart + 1 };
    const c = this.text[this.pos + 1] ?? '';
    this.pos += 2;
    if (c in SIMPLE_ESCAPES) return [SIMPLE_ESCAPES[c]];
    if (/[0-7]/.test(c)) {
      const digits = c + this.take(/[0-7]/, 2);
      const value = parseInt(digits, 8);
      if (value > 0xff) this.fail(at, `octal escape '\\${digits}' is larger than one byte`);
      return [value];
    }
    if (c === 'x' || c === 'u' || c === 'U') {
      const width = c === 'x' ? 2 : c === 'u' ? 4 : 8;
      const digits = this.take(/[0-9a-fA-F]/, width);
      if (digits === '' || (c !== 'x' && digits.length < width)) this.fail(at, `escape '\\${c}' needs ${c === 'x' ? '1 or 2' : width} hex digits`);
      const value = parseInt(digits, 16);
      if (c === 'x') return [value];
      if (value > 0x10ffff) this.fail(at, `escape '\\${c}${digits}' is not a Unicode code point`);
      return utf8.encode(String.fromCodePoint(value));
    }
    return this.fail(at, `invalid escape '\\${c}' in string`);
  }

  /** Consumes up to `max` characters matching `char` and returns them. */
  private take(char: RegExp, max: number): string {
    let taken = '';
    while (taken.length < max && char.test(this.text[this.pos] ?? '')) taken += this.text[this.pos++];
    return taken;
  }
}

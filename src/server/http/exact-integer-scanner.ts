/**
 * JSON.parse turns every number into a double, so INT64 and UINT64 values beyond
 * 2^53 arrive rounded. Node 20 has no reviver with source text, so when a rounded
 * value shows up the decoder asks this scanner for the number tokens, as written, of
 * one input's `data` array. The text has already been parsed by JSON.parse, so it is
 * valid JSON; the scanner only has to find its way, never to diagnose.
 */

const enum Char {
  Quote = 0x22,
  Backslash = 0x5c,
  Comma = 0x2c,
  Colon = 0x3a,
  OpenBracket = 0x5b,
  CloseBracket = 0x5d,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

const isWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

class Scanner {
  position = 0;

  constructor(private readonly text: string) {}

  private skipWhitespace(): void {
    while (this.position < this.text.length && isWhitespace(this.text.charCodeAt(this.position))) this.position++;
  }

  /** The next non-whitespace character code, without consuming it. */
  peek(): number {
    this.skipWhitespace();
    return this.text.charCodeAt(this.position);
  }

  /** Reads a string token and returns its decoded value. */
  string(): string {
    this.skipWhitespace();
    const start = this.position;
    this.position++;
    for (;;) {
      const c = this.text.charCodeAt(this.position++);
      if (c === Char.Backslash) this.position++;
      else if (c === Char.Quote) break;
    }
    const token = this.text.slice(start, this.position);
    // Escapes in keys are rare; JSON.parse decodes them exactly as it did the first time.
    return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
  }

  /**
   * Skips one value; with `numbers`, collects every number token inside it in order.
   * Iterative, so that deep nesting cannot exhaust the stack.
   */
  value(numbers?: string[]): void {
    let depth = 0;
    do {
      const c = this.peek();
      if (c === Char.Quote) {
        this.string();
      } else if (c === Char.OpenBracket || c === Char.OpenBrace) {
        depth++;
        this.position++;
      } else if (c === Char.CloseBracket || c === Char.CloseBrace) {
        depth--;
        this.position++;
      } else if (c === Char.Comma || c === Char.Colon) {
        this.position++;
      } else {
        const start = this.position;
        while (this.position < this.text.length) {
          const d = this.text.charCodeAt(this.position);
          if (d === Char.Comma || d === Char.CloseBracket || d === Char.CloseBrace || isWhitespace(d)) break;
          this.position++;
        }
        const token = this.text.slice(start, this.position);
        // Literals true, false and null are not numbers.
        if (numbers && token.charCodeAt(0) !== 0x74 && token.charCodeAt(0) !== 0x66 && token.charCodeAt(0) !== 0x6e) numbers.push(token);
      }
    } while (depth > 0 && this.position < this.text.length);
  }

  /** Calls `member` for each key of the object at the current position; `member` must consume the value. */
  object(member: (key: string) => void): void {
    this.peek();
    this.position++;
    if (this.peek() === Char.CloseBrace) {
      this.position++;
      return;
    }
    for (;;) {
      const key = this.string();
      this.peek();
      this.position++;
      member(key);
      const next = this.peek();
      this.position++;
      if (next !== Char.Comma) return;
    }
  }

  /** Calls `element` for each element of the array at the current position; `element` must consume it. */
  array(element: (index: number) => void): void {
    this.peek();
    this.position++;
    if (this.peek() === Char.CloseBracket) {
      this.position++;
      return;
    }
    for (let index = 0; ; index++) {
      element(index);
      const next = this.peek();
      this.position++;
      if (next !== Char.Comma) return;
    }
  }
}

/**
 * The number tokens of `inputs[inputIndex].data` in the JSON text of an inference
 * request, in the order the values appear (row-major for nested data). As with
 * JSON.parse, the last of duplicate keys wins. Undefined when there is no such array.
 */
export function inputDataNumberTokens(text: string, inputIndex: number): string[] | undefined {
  const scanner = new Scanner(text);
  let tokens: string[] | undefined;
  scanner.object((key) => {
    if (key !== 'inputs' || scanner.peek() !== Char.OpenBracket) return scanner.value();
    tokens = undefined;
    scanner.array((index) => {
      if (index !== inputIndex || scanner.peek() !== Char.OpenBrace) return scanner.value();
      scanner.object((member) => {
        if (member !== 'data') return scanner.value();
        tokens = [];
        scanner.value(tokens);
      });
    });
  });
  return tokens;
}


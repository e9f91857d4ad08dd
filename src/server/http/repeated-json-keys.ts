/**
 * The keys that a JSON object text gives more than once. JSON.parse keeps the last of
 * them silently; Triton's generate endpoint sees every member, so a repeated input is
 * an error there ("input 'X' already exists in request") instead of a silent choice.
 */

/** Repeated keys, each once, in the order of their second appearance. */
export interface RepeatedKeys {
  /** Members of the top-level object. */
  topLevel: string[];
  /** Members of the top-level object's `parameters` object. */
  parameters: string[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Scans the UTF-8 `body`, which JSON.parse has already accepted as an object. */
export function repeatedJsonKeys(body: Uint8Array): RepeatedKeys {
  const text = (start: number, end: number) => Buffer.from(body.buffer, body.byteOffset + start, end - start).toString('utf8');
  const result: RepeatedKeys = { topLevel: [], parameters: [] };
  // One entry per open container: the keys seen when it is an object, undefined for an array.
  const stack: (Set<string> | undefined)[] = [];
  const expectKey: boolean[] = [];
  let topLevelKey: string | undefined;
  let inParameters = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; body[i] !== QUOTE; i++) {
        if (body[i] === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      const depth = stack.length;
      if (depth === 0 || !expectKey[depth - 1]) continue;
      expectKey[depth - 1] = false;
      const key = escaped ? (JSON.parse(text(start, i + 1)) as string) : text(start + 1, i);
      const seen = stack[depth - 1]!;
      if (seen.has(key)) {
        const list = depth === 1 ? result.topLevel : inParameters && depth === 2 ? result.parameters : undefined;
        if (list && !list.includes(key)) list.push(key);
      }
      seen.add(key);
      if (depth === 1) topLevelKey = key;
    } else if (c === 0x7b /* { */) {
      if (stack.length === 1) inParameters = topLevelKey === 'parameters';
      stack.push(new Set());
      expectKey.push(true);
    } else if (c === 0x5b /* [ */) {
      stack.push(undefined);
      expectKey.push(false);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey.pop();
    } else if (c === 0x2c /* , */) {
      const depth = stack.length;
      if (depth > 0 && stack[depth - 1]) expectKey[depth - 1] = true;
    }
  }
  return result;
}

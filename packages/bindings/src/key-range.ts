/**
 * The smallest string greater than every string starting with `prefix`, in
 * UTF-8 byte order (which is code point order): the prefix with its last code
 * point incremented. "" when there is none (an empty prefix, or only U+10FFFF).
 */
export function prefixEnd(prefix: string): string {
  const points = [...prefix];
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last === 0x10ffff) continue;
    // Lone surrogates are not characters: the next one after U+D7FF is U+E000.
    const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
    return points.join("") + String.fromCodePoint(next);
  }
  return "";
}

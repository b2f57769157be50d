/** UTF-8 helpers tuned for short strings (keys, categorical values). */
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/**
 * Decodes bytes[start, end). Short ASCII strings are built in JS: a
 * TextDecoder call costs more than the loop for a handful of bytes.
 */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = '';
    for (let i = start; i < end; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) return decoder.decode(bytes.subarray(start, end));
      s += String.fromCharCode(b);
    }
    return s;
  }
  return decoder.decode(bytes.subarray(start, end));
}

/** Whether bytes[start, end) hold exactly the UTF-8 encoding of `s`. */
export function utf8Equals(bytes: Uint8Array, start: number, end: number, s: string): boolean {
  // A UTF-8 encoding is never shorter than the UTF-16 length of its string.
  if (end - start < s.length) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return sameBytes(bytes, start, end, encoder.encode(s));
    if (bytes[start + i] !== c) return false;
  }
  return end - start === s.length;
}

function sameBytes(bytes: Uint8Array, start: number, end: number, other: Uint8Array): boolean {
  if (end - start !== other.length) return false;
  for (let i = 0; i < other.length; i++) if (bytes[start + i] !== other[i]) return false;
  return true;
}

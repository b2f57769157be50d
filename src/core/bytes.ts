/** Byte buffers that grow as they are written. */

/**
 * `buf` when `used + extra` bytes fit in it, else a copy of its first `used`
 * bytes in a buffer at least twice as large (so appends cost amortized O(1)).
 */
export function withRoom(buf: Uint8Array<ArrayBuffer>, used: number, extra: number): Uint8Array<ArrayBuffer> {
  if (used + extra <= buf.length) return buf;
  let size = Math.max(buf.length * 2, 16);
  while (size < used + extra) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, used));
  return next;
}

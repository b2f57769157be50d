/**
 * Deltas between two bundle files: the new file as copies of byte ranges
 * of the old one plus the bytes that are new, so a device holding version
 * N fetches only what changed for N+1. Applying a delta gives exactly the
 * new file (its SHA-256 is checked, and the new file's signature then
 * verifies as for a full download), so a delta needs no signature of its
 * own: a tampered one cannot produce bytes that pass.
 *
 * Bundles are laid out for this: row records are fixed-width and stay in
 * place when only values change, so a delta's size follows the rows that
 * changed (and the manifest, whose statistics change with them).
 *
 * Format (little-endian):
 *   0   8  magic "LARDERD\n"
 *   8   2  delta format version (1)
 *   10  2  reserved, 0
 *   12  4  op count
 *   16  32 SHA-256 of the base (old) file
 *   48  32 SHA-256 of the target (new) file
 *   80  8  target length, f64
 *   88  ops: u8 kind; kind 0 (copy): f64 base offset, f64 length;
 *       kind 1 (data): f64 length, then the bytes
 *
 * The diff is rsync's: the base is cut into blocks indexed by a rolling
 * checksum; the new file is scanned byte by byte, a block that matches
 * (checked byte for byte) becomes a copy, extended as far as the bytes agree.
 */
import { LarderError } from '../errors.js';
import type { Sha256Hex } from './decode.js';
import { hex, sha256Hex } from './format.js';


export const DELTA_MAGIC = new Uint8Array([0x4c, 0x41, 0x52, 0x44, 0x45, 0x52, 0x44, 0x0a]); // "LARDERD\n"
const DELTA_VERSION = 1;
const HEAD = 88;
const DEFAULT_BLOCK = 64;

type Op = { copy: number; length: number } | { data: Uint8Array };

const bad = (msg: string) => new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `delta is corrupt: ${msg}`);

/** rsync's weak checksum of `bytes[at, at + n)`. */
function weak(bytes: Uint8Array, at: number, n: number): { a: number; b: number } {
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    a = (a + bytes[at + i]!) & 0xffff;
    b = (b + (n - i) * bytes[at + i]!) & 0xffff;
  }
  return { a, b };
}

const sameBytes = (x: Uint8Array, xi: number, y: Uint8Array, yi: number, n: number): boolean => {
  for (let i = 0; i < n; i++) if (x[xi + i] !== y[yi + i]) return false;
  return true;
};

/** The ops that turn `base` into `target`. */
function diffOps(base: Uint8Array, target: Uint8Array, block: number): Op[] {
  const index = new Map<number, number[]>();
  for (let off = 0; off + block <= base.length; off += block) {
    const { a, b } = weak(base, off, block);
    const key = a | (b << 16);
    const list = index.get(key);
    if (!list) index.set(key, [off]);
    else if (list.length < 8) list.push(off);
  }
  const ops: Op[] = [];
  let literalStart = 0;
  const flush = (end: number) => {
    if (end > literalStart) ops.push({ data: target.subarray(literalStart, end) });
  };
  let p = 0;
  let sums = target.length >= block ? weak(target, 0, block) : { a: 0, b: 0 };
  while (p + block <= target.length) {
    const candidates = index.get(sums.a | (sums.b << 16));
    const match = candidates?.find((off) => sameBytes(base, off, target, p, block));
    if (match !== undefined) {
      let length = block;
      while (p + length < target.length && match + length < base.length && base[match + length] === target[p + length]) length++;
      flush(p);
      const last = ops[ops.length - 1];
      if (last && 'copy' in last && last.copy + last.length === match) last.length += length;
      else ops.push({ copy: match, length });
      p += length;
      literalStart = p;
      if (p + block <= target.length) sums = weak(target, p, block);
      continue;
    }
    // Roll the window one byte on.
    const out = target[p]!;
    if (p + block < target.length) {
      const inb = target[p + block]!;
      sums = { a: (sums.a - out + inb) & 0xffff, b: (sums.b - block * out + ((sums.a - out + inb) & 0xffff)) & 0xffff };
    }
    p++;
  }
  flush(target.length);
  return ops;
}

/** A delta from `base` to `target` (both whole bundle files). */
export async function diffBundles(base: Uint8Array, target: Uint8Array, opts: { blockBytes?: number; sha256?: Sha256Hex } = {}): Promise<Uint8Array> {
  const sha = opts.sha256 ?? sha256Hex;
  const ops = diffOps(base, target, opts.blockBytes ?? DEFAULT_BLOCK);
  let size = HEAD;
  for (const op of ops) size += 'copy' in op ? 17 : 9 + op.data.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(DELTA_MAGIC, 0);
  dv.setUint16(8, DELTA_VERSION, true);
  dv.setUint32(12, ops.length, true);
  out.set(unhex(await sha(base)), 16);
  out.set(unhex(await sha(target)), 48);
  dv.setFloat64(80, target.length, true);
  let at = HEAD;
  for (const op of ops) {
    if ('copy' in op) {
      out[at] = 0;
      dv.setFloat64(at + 1, op.copy, true);
      dv.setFloat64(at + 9, op.length, true);
      at += 17;
    } else {
      out[at] = 1;
      dv.setFloat64(at + 1, op.data.length, true);
      out.set(op.data, at + 9);
      at += 9 + op.data.length;
    }
  }
  return out;
}

/**
 * Applies a delta to its base: the target file's bytes, whose SHA-256 is
 * checked against the delta's. Throws LARDER_ERR_BUNDLE_CORRUPT for a
 * malformed delta or one made from another base, LARDER_ERR_BUNDLE_CHECKSUM
 * when the result does not hash right.
 */
export async function applyDelta(base: Uint8Array, delta: Uint8Array, opts: { sha256?: Sha256Hex } = {}): Promise<Uint8Array> {
  const sha = opts.sha256 ?? sha256Hex;
  if (delta.length < HEAD || !DELTA_MAGIC.every((b, i) => delta[i] === b)) throw bad('not a larder delta (bad magic bytes)');
  const dv = new DataView(delta.buffer, delta.byteOffset, delta.byteLength);
  if (dv.getUint16(8, true) !== DELTA_VERSION) throw bad(`unsupported delta format version ${dv.getUint16(8, true)}`);
  if ((await sha(base)) !== hex(delta.subarray(16, 48))) throw bad('it was made from another base bundle than the one held');
  const targetLength = dv.getFloat64(80, true);
  // Every target byte comes from the base or the delta: a larger length is a lie (and would be a huge allocation).
  if (!Number.isSafeInteger(targetLength) || targetLength < 0 || targetLength > base.length + delta.length) throw bad('bad target length');
  const out = new Uint8Array(targetLength);
  let at = HEAD;
  let written = 0;
  const count = dv.getUint32(12, true);
  for (let i = 0; i < count; i++) {
    if (at + 9 > delta.length) throw bad('truncated');
    const kind = delta[at];
    if (kind === 0) {
      if (at + 17 > delta.length) throw bad('truncated');
      const from = dv.getFloat64(at + 1, true);
      const length = dv.getFloat64(at + 9, true);
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(length) || from < 0 || length < 0 || from + length > base.length || written + length > targetLength) throw bad(`op ${i} copies outside the files`);
      out.set(base.subarray(from, from + length), written);
      written += length;
      at += 17;
    } else if (kind === 1) {
      const length = dv.getFloat64(at + 1, true);
      if (!Number.isSafeInteger(length) || length < 0 || at + 9 + length > delta.length || written + length > targetLength) throw bad(`op ${i} holds more bytes than there are`);
      out.set(delta.subarray(at + 9, at + 9 + length), written);
      written += length;
      at += 9 + length;
    } else throw bad(`op ${i} has unknown kind ${String(kind)}`);
  }
  if (written !== targetLength || at !== delta.length) throw bad('its ops do not fill the target exactly');
  if ((await sha(out)) !== hex(delta.subarray(48, 80))) {
    throw new LarderError('LARDER_ERR_BUNDLE_CHECKSUM', 'the bundle rebuilt from the delta does not match its SHA-256');
  }
  return out;
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

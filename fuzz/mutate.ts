/**
 * The fuzzer's mutations, each driven by a seeded random source so that any
 * case can be replayed from its number:
 *
 *   raw          bytes of the file changed anywhere (bits, bytes, special
 *                values, ranges cut, copied, inserted; truncation), the
 *                checksums left as they were: what a damaged file is.
 *   checksummed  bytes of the manifest, the layout or the data changed,
 *                special values written into the row records (times, heap
 *                references, dictionary indexes, null bits, key slots),
 *                then the checksums recomputed: the mutations reach the
 *                decoder's checks past the checksums.
 *   structural   the msgpack manifest and layout decoded, values replaced by
 *                values of other types, deleted, renamed, swapped, copied,
 *                lists cut and repeated, then packed again with valid
 *                checksums: what a hostile or buggy writer produces.
 */
import { HEADER_BYTES, sha256Hex } from '../src/core/bundle/format.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../src/core/time.js';
import { type BundleParts, joinBundle, packAny } from './forge.js';

export type Strategy = 'raw' | 'checksummed' | 'structural';
export const STRATEGIES: readonly Strategy[] = ['raw', 'checksummed', 'structural'];

/** sfc32: small, fast, and the same sequence everywhere for a seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number, stream = 0) {
    this.a = 0x9e3779b9;
    this.b = seed >>> 0;
    this.c = stream >>> 0;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }
  /** A uniform double in [0, 1). */
  next(): number {
    this.a >>>= 0; this.b >>>= 0; this.c >>>= 0; this.d >>>= 0;
    const t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const r = (t + this.d) | 0;
    this.c = (this.c + r) | 0;
    return (r >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Doubles that break naive readers of times and numbers. */
const SPECIAL_DOUBLES = [
  NaN, Infinity, -Infinity, 1e300, -1e300, -0, 0.5, 1.5, -1, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 8.64e15, -8.64e15, 8.64e15 + 1,
  MIN_TIME_MS - 1, MAX_TIME_MS + 1, MIN_TIME_MS, MAX_TIME_MS, Number.MAX_VALUE, Number.MIN_VALUE, -62_167_219_200_000, 253_402_300_800_000,
];
/** 32-bit values that break naive offsets, lengths and indexes. */
const SPECIAL_U32 = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

function writeSpecial(rng: Rng, bytes: Uint8Array, at: number): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = rng.int(3);
  if (kind === 0 && at + 8 <= bytes.length) dv.setFloat64(at, rng.pick(SPECIAL_DOUBLES), true);
  else if (kind === 1 && at + 4 <= bytes.length) dv.setUint32(at, rng.pick(SPECIAL_U32), true);
  else if (at < bytes.length) bytes[at] = rng.pick([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
}

/** One to four byte-level changes to `bytes` (a copy is returned), positions within [from, to) where it matters. */
export function mutateBytes(rng: Rng, input: Uint8Array, from = 0, to = input.length): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const ops = 1 + rng.int(4);
  for (let k = 0; k < ops; k++) {
    const span = Math.max(1, Math.min(to, bytes.length) - from);
    const pos = () => from + rng.int(span);
    const len = () => 1 + rng.int(rng.chance(0.8) ? 16 : 4096);
    switch (rng.int(11)) {
      case 0: { // flip bits
        for (let i = 1 + rng.int(8); i > 0; i--) {
          const p = pos();
          if (p < bytes.length) bytes[p]! ^= 1 << rng.int(8);
        }
        break;
      }
      case 1: { // random bytes
        for (let i = 1 + rng.int(8); i > 0; i--) {
          const p = pos();
          if (p < bytes.length) bytes[p] = rng.int(256);
        }
        break;
      }
      case 2:
      case 3: { // special values, aligned the way the format aligns them
        const align = rng.pick([1, 4, 8]);
        writeSpecial(rng, bytes, Math.floor(pos() / align) * align);
        break;
      }
      case 4: // truncate
        bytes = bytes.subarray(0, rng.int(bytes.length + 1)).slice();
        break;
      case 5: { // extend
        const extra = new Uint8Array(len());
        if (rng.chance(0.5)) for (let i = 0; i < extra.length; i++) extra[i] = rng.int(256);
        bytes = concat(bytes, extra);
        break;
      }
      case 6: { // delete a range
        const p = pos();
        bytes = concat(bytes.subarray(0, p), bytes.subarray(Math.min(bytes.length, p + len())));
        break;
      }
      case 7: { // insert random bytes
        const p = pos();
        const ins = new Uint8Array(len());
        for (let i = 0; i < ins.length; i++) ins[i] = rng.int(256);
        bytes = concat(bytes.subarray(0, p), ins, bytes.subarray(p));
        break;
      }
      case 8: { // repeat a range in place
        const p = pos();
        const chunk = bytes.slice(p, Math.min(bytes.length, p + len()));
        bytes = concat(bytes.subarray(0, p), chunk, bytes.subarray(p));
        break;
      }
      case 9: { // zero a range
        const p = pos();
        bytes.fill(0, p, Math.min(bytes.length, p + len()));
        break;
      }
      case 10: { // copy a range over another
        const src = rng.int(Math.max(1, bytes.length));
        const dst = pos();
        const n = Math.min(len(), bytes.length - src, bytes.length - dst);
        if (n > 0) bytes.copyWithin(dst, src, src + n);
        break;
      }
    }
  }
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Raw: the file's bytes changed, checksums untouched; a third of the time in the header. */
export function rawCase(rng: Rng, seed: Uint8Array): Uint8Array {
  if (rng.chance(0.02)) return rng.chance(0.5) ? new Uint8Array(seed.length) : mutateBytes(rng, new Uint8Array(rng.int(64)));
  return rng.chance(0.33) ? mutateBytes(rng, seed, 0, HEADER_BYTES) : mutateBytes(rng, seed);
}

/** A seed's sections as byte ranges of its file, and its parts. */
export interface SeedInfo {
  bytes: Uint8Array;
  manifestEnd: number;
  /** The manifest's contentSha256, as the hex text inside the manifest bytes. */
  contentHex: string;
  parts: BundleParts;
  /** Every string in the manifest and layout, for renames that keep to known names. */
  strings: string[];
}

const hexBytes = (h: string) => Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));

/** The file with the given manifest and content bytes, the header (and, when found, the content hash inside the manifest) made to match. */
async function reseal(seed: SeedInfo, manifest: Uint8Array, content: Uint8Array, fixContentHash: boolean): Promise<Uint8Array> {
  let m = manifest;
  if (fixContentHash) {
    const at = indexOf(m, new TextEncoder().encode(seed.contentHex));
    if (at >= 0) {
      m = m.slice();
      m.set(new TextEncoder().encode(await sha256Hex(content)), at);
    }
  }
  const out = new Uint8Array(HEADER_BYTES + m.length + content.length);
  out.set(seed.bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, m.length, true);
  out.set(hexBytes(await sha256Hex(m)), 16);
  out.set(m, HEADER_BYTES);
  out.set(content, HEADER_BYTES + m.length);
  return out;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

interface ViewBlocks {
  records: { offset: number; length: number };
  slots: { offset: number; length: number };
  heap: { offset: number; length: number };
  stride: number;
  rows: number;
}

/** Checksummed: bytes of one section changed, the checksums recomputed. */
export async function checksummedCase(rng: Rng, seed: SeedInfo): Promise<Uint8Array> {
  const manifest = seed.bytes.subarray(HEADER_BYTES, seed.manifestEnd);
  const content = seed.bytes.subarray(seed.manifestEnd);
  const r = rng.next();
  if (r < 0.2) return reseal(seed, mutateBytes(rng, manifest), content, false);
  if (r < 0.4) {
    // The layout: its length field and its msgpack.
    const layoutLength = new DataView(content.buffer, content.byteOffset, 4).getUint32(0, true);
    return reseal(seed, manifest, mutateBytes(rng, content, 0, 4 + layoutLength), true);
  }
  // The data: anywhere in it, or values of one view's records, slots or heap.
  const dataStart = content.length - seed.parts.data.length;
  const views = seed.parts.layout.views as ViewBlocks[];
  const view = views.length > 0 ? rng.pick(views) : undefined;
  if (!view || view.rows === 0 || rng.chance(0.2)) return reseal(seed, manifest, mutateBytes(rng, content, dataStart), true);
  const mutated = content.slice();
  const dv = new DataView(mutated.buffer);
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const row = rng.int(view.rows);
    const base = dataStart + view.records.offset + row * view.stride;
    const target = rng.int(6);
    if (target === 0) dv.setFloat64(base, rng.pick(SPECIAL_DOUBLES), true); // event time
    else if (target === 1) dv.setFloat64(base + 24, rng.pick(SPECIAL_DOUBLES), true); // created time
    else if (target === 2) writeSpecial(rng, mutated, base + 8 + 4 * rng.int(2)); // key heap offset, length
    else if (target === 3) writeSpecial(rng, mutated, base + 32 + Math.floor(rng.int(view.stride - 32) / 4) * 4); // fields, null bits
    else if (target === 4 && view.slots.length > 0) dv.setInt32(dataStart + view.slots.offset + 4 * rng.int(view.slots.length / 4), rng.pick([-1, 0, 1, view.rows, view.rows + 1, 0x7fffffff]), true);
    else if (view.heap.length > 0) mutated[dataStart + view.heap.offset + rng.int(view.heap.length)] = rng.int(256);
  }
  return reseal(seed, manifest, mutated, true);
}

/** Values of other types than a field holds, and values at the edges of each type. */
function paletteValue(rng: Rng, strings: readonly string[]): unknown {
  switch (rng.int(4)) {
    case 0:
      return rng.pick([null, undefined, true, false, '', 'x', '*', ':', 'a:b:c', '__proto_', 'constructor', 'toString', 'f64', 'packed', 'dict', 'timestamp', 'int64', 'string', 'x'.repeat(10_000)]);
    case 1:
      return rng.pick([0, -1, 1, 2, 3, 7, 8, 31, 32, 33, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e300, -0]);
    case 2:
      return rng.pick<() => unknown>([
        () => [], () => [null], () => [1, 2], () => ['a'], () => ({}), () => ({ a: 1 }), () => ({ name: rng.pick(strings) }),
        () => 2n ** 63n - 1n, () => -1n, () => new Date(0), () => new Uint8Array([1, 2, 3]), () => new Float64Array([NaN]),
        () => new Map([[1, 2]]), () => new Set([1]),
      ])();
    default:
      return rng.pick(strings);
  }
}

interface Slot {
  parent: Record<string, unknown> | unknown[];
  key: string | number;
  value: unknown;
}

/** Every value in a decoded tree, with where it sits. */
function slotsOf(root: unknown): Slot[] {
  const out: Slot[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (out.push({ parent: v, key: i, value: x }), walk(x)));
    else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, x] of Object.entries(v)) {
        out.push({ parent: v as Record<string, unknown>, key: k, value: x });
        walk(x);
      }
    }
  };
  walk(root);
  return out;
}

function set(slot: Slot, value: unknown): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else Object.defineProperty(slot.parent, slot.key, { value, enumerable: true, writable: true, configurable: true });
}

function remove(slot: Slot): void {
  if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
  else delete slot.parent[slot.key as string];
}

/** One structural change somewhere in `root`. */
function mutateTree(rng: Rng, root: Record<string, unknown>, strings: readonly string[]): void {
  const slots = slotsOf(root);
  if (slots.length === 0) return;
  const slot = rng.pick(slots);
  const v = slot.value;
  switch (rng.int(8)) {
    case 0:
    case 1:
      set(slot, paletteValue(rng, strings));
      break;
    case 2:
      remove(slot);
      break;
    case 3:
      if (typeof v === 'number') set(slot, rng.pick([v + 1, v - 1, v * 2, -v, 0, v + 8, v - 8, v / 2, v + 0.5, v * 2 ** 20]));
      else if (typeof v === 'string') set(slot, rng.pick([rng.pick(strings), '', v + v, v.slice(1), v.toUpperCase(), `${v}:*`]));
      else set(slot, paletteValue(rng, strings));
      break;
    case 4:
      if (Array.isArray(v) && v.length > 0) {
        const i = rng.int(v.length);
        const op = rng.int(5);
        if (op === 0) v.splice(i, 0, structuredClone(v[i]));
        else if (op === 1) v.reverse();
        else if (op === 2) v.length = 0;
        else if (op === 3) v.push(paletteValue(rng, strings));
        else [v[0], v[i]] = [v[i], v[0]];
      } else set(slot, paletteValue(rng, strings));
      break;
    case 5: { // another value of the tree here (a sibling's offset, another view's block, ...)
      const other = rng.pick(slots);
      set(slot, safeClone(other.value));
      break;
    }
    case 6: { // swap two values of the tree
      const other = rng.pick(slots);
      const a = safeClone(slot.value);
      set(slot, safeClone(other.value));
      set(other, a);
      break;
    }
    default: // rename a key
      if (!Array.isArray(slot.parent)) {
        remove(slot);
        set({ parent: slot.parent, key: rng.pick(strings), value: undefined }, v);
      } else set(slot, paletteValue(rng, strings));
  }
}

function safeClone(v: unknown): unknown {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}

/** Structural: the decoded manifest and layout changed, packed again, checksums valid. */
export async function structuralCase(rng: Rng, seed: SeedInfo): Promise<Uint8Array> {
  const parts: BundleParts = { manifest: structuredClone(seed.parts.manifest), layout: structuredClone(seed.parts.layout), data: seed.parts.data };
  const before = parts.manifest.contentSha256;
  for (let k = 1 + rng.int(3); k > 0; k--) mutateTree(rng, rng.chance(0.6) ? parts.manifest : parts.layout, seed.strings);
  if (rng.chance(0.15)) parts.data = mutateBytes(rng, parts.data);
  const keepContentSha256 = parts.manifest.contentSha256 !== before;
  let layoutBytes: Uint8Array | undefined;
  if (rng.chance(0.1)) layoutBytes = mutateBytes(rng, packAny(parts.layout));
  return joinBundle(parts, { keepContentSha256, layoutBytes });
}

/** Every string in a tree (names of views, features, kinds, dtypes, ...). */
export function stringsOf(...roots: unknown[]): string[] {
  const out = new Set<string>();
  for (const root of roots) {
    for (const s of slotsOf(root)) {
      if (typeof s.value === 'string' && s.value.length < 100) out.add(s.value);
      if (typeof s.key === 'string') out.add(s.key);
    }
  }
  return [...out];
}

/**
 * Row records: how one view's values are laid out (see ViewLayout in
 * format.ts), written by the encoder and read through closures built once
 * per field at open, so a read is an index computation and a typed-array
 * access with no dispatch on dtype.
 */
import { pack, unpack } from 'msgpackr';
import type { Dtype } from '../dtypes.js';
import type { FeatureDef } from '../repo/types.js';
import { TIME_RANGE_TEXT, formatTimestamp, isStorableTime } from '../time.js';
import type { FieldKind, FieldLayout } from './format.js';
import { withRoom } from '../bytes.js';
import { decodeUtf8 } from './utf8.js';
import { LarderError } from '../errors.js';

/** A value that cannot be stored as its dtype (LARDER_ERR_VALUE); the encoder adds the view. */
const unstorable = (message: string) => new LarderError('LARDER_ERR_VALUE', message);

export const RECORD_HEADER_BYTES = 32;
/** Keys up to this many UTF-8 bytes are also kept in the record header (see format.ts). */
export const INLINE_KEY_BYTES = 8;
const WIDTH: Record<FieldKind, number> = { f64: 8, f32: 4, u8: 1, str: 8, dict: 4, f32list: 8, packed: 8 };
const ALIGNMENT: Record<FieldKind, number> = { f64: 8, f32: 4, u8: 1, str: 4, dict: 4, f32list: 4, packed: 4 };
/** A string column becomes a dictionary when it has at most this many distinct values... */
const DICTIONARY_MAX_ENTRIES = 65_536;
/** ...and each value occurs at least this many times on average. */
const DICTIONARY_MIN_REPEATS = 2;

export const isVariable = (k: FieldKind): boolean => k === 'str' || k === 'f32list' || k === 'packed';
export const fieldWidth = (k: FieldKind): number => WIDTH[k];
export const fieldAlignment = (k: FieldKind): number => ALIGNMENT[k];

const isNull = (v: unknown): boolean => v === null || v === undefined;

/**
 * The kind a dtype is stored as when the layout must not depend on the data
 * (standalone rows, see encodeRows): no dictionaries, and lists as msgpack,
 * which keeps null elements.
 */
export function standaloneKind(dtype: Dtype): FieldKind {
  switch (dtype) {
    case 'int64':
    case 'float64':
    case 'timestamp':
      return 'f64';
    case 'float32':
      return 'f32';
    case 'bool':
      return 'u8';
    case 'string':
      return 'str';
    case 'float32[]':
    case 'string[]':
    case 'int64[]':
      return 'packed';
  }
}

/** The kind a bundle stores a column as: the standalone kind, but plain float32 vectors (embeddings) as raw float32. */
function kindOf(dtype: Dtype, values: ArrayLike<unknown>): FieldKind {
  if (dtype !== 'float32[]') return standaloneKind(dtype);
  // Lists holding nulls stay msgpack (the standalone kind), so that the nulls survive.
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as ArrayLike<unknown> | null;
    if (isNull(v)) continue;
    for (let j = 0; j < v!.length; j++) if (typeof v![j] !== 'number') return 'packed';
  }
  return 'f32list';
}

/**
 * The distinct values of a string column in order of first appearance, when
 * few enough of them repeat often enough to be worth a dictionary.
 */
function dictionaryOf(values: ArrayLike<unknown>): Map<string, number> | undefined {
  const index = new Map<string, number>();
  let present = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isNull(v)) continue;
    present++;
    const s = String(v);
    if (!index.has(s)) {
      if (index.size === DICTIONARY_MAX_ENTRIES) return undefined;
      index.set(s, index.size);
    }
  }
  return index.size > 0 && index.size * DICTIONARY_MIN_REPEATS <= present ? index : undefined;
}

/**
 * Places fields in the record: widest alignment first, so no padding is
 * needed between them. Every field has a null bit, whether or not it holds
 * nulls.
 */
export function planRecord(features: readonly { name: string; kind: FieldKind }[]): { fields: FieldLayout[]; stride: number; nullsOffset: number } {
  const order = [...features.keys()].sort((a, b) => ALIGNMENT[features[b]!.kind] - ALIGNMENT[features[a]!.kind]);
  const fields = new Array<FieldLayout>(features.length);
  let at = RECORD_HEADER_BYTES;
  for (const i of order) {
    const f = features[i]!;
    fields[i] = { name: f.name, kind: f.kind, offset: at };
    at += WIDTH[f.kind];
  }
  const nullsOffset = at;
  at += Math.ceil(features.length / 8);
  return { fields, stride: Math.ceil(at / 8) * 8, nullsOffset };
}

/** Strings up to this many UTF-16 units are first tried as ASCII, copied in a loop (see Heap.utf8). */
const ASCII_LOOP_MAX = 32;

/** A growable byte buffer for the heap. */
class Heap {
  buf = new Uint8Array(1 << 16);
  length = 0;
  private readonly encoder = new TextEncoder();
  private ensure(extra: number): void {
    this.buf = withRoom(this.buf, this.length, extra);
  }
  utf8(s: string): number {
    this.ensure(s.length * 3);
    const buf = this.buf;
    const at = this.length;
    const n = s.length;
    // Short ASCII strings (keys, codes, ids) are copied code by code: that
    // costs a fraction of encodeInto's call and the subarray it needs. Any
    // other string is encoded by encodeInto from its start.
    if (n <= ASCII_LOOP_MAX) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        this.length = at + n;
        return n;
      }
    }
    const { written } = this.encoder.encodeInto(s, buf.subarray(at));
    this.length = at + written;
    return written;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  align4(): void {
    const pad = (4 - (this.length % 4)) % 4;
    this.ensure(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
}

function toNumber(dtype: Dtype, v: unknown, row: number): number {
  if (dtype === 'timestamp') {
    const ms = v instanceof Date ? v.getTime() : typeof v === 'bigint' ? Number(v) : v;
    if (typeof ms !== 'number' || !isStorableTime(ms)) {
      throw unstorable(`row ${row}: ${describeTime(v)} is not a time larder stores (whole milliseconds from ${TIME_RANGE_TEXT})`);
    }
    return ms;
  }
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw unstorable(`row ${row}: ${v} is outside the safe integer range (±2^53) that int64 values support; store it as a string`);
    }
    return Number(v);
  }
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number') {
    if (dtype === 'int64' && !Number.isSafeInteger(v)) throw unstorable(`row ${row}: ${v} is not a safe integer`);
    return v;
  }
  throw unstorable(`row ${row}: expected a number for ${dtype}, got ${typeof v}`);
}

/** A time value as a message shows it: epoch ms, and the date when it has one. */
export function describeTime(v: unknown): string {
  const ms = v instanceof Date ? v.getTime() : v;
  if (typeof ms !== 'number') return `${typeof v} ${String(v)}`;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : `${ms} (${date.toISOString()})`;
}

export interface EncodedRows {
  fields: FieldLayout[];
  stride: number;
  nullsOffset: number;
  records: Uint8Array;
  heap: Uint8Array;
  /** For standalone rows: row r's heap bytes are heap[rowHeapStarts[r], rowHeapStarts[r + 1]). */
  rowHeapStarts?: Uint32Array;
}

export interface EncodeRowsOptions {
  /**
   * Standalone rows, for stores that keep one row per value (Redis): the
   * layout comes from the dtypes alone (standaloneKind), so every row of a
   * view has the same one whatever the data, and each row's heap offsets
   * count from its own first heap byte (its key), which starts 4-aligned.
   * A row is then its record followed by its heap bytes (see row-value.ts).
   */
  standalone?: boolean;
}

/** Typed views of one records buffer. */
interface RecordViews {
  f64: Float64Array;
  f32: Float32Array;
  u32: Uint32Array;
  u8: Uint8Array;
}

/**
 * Writes feature `i`'s fixed-width field (f64, f32, u8, dict) of rows
 * [0, n). A Float64Array holds no nulls, so its loop checks none.
 */
function writeFixedColumn(
  field: FieldLayout,
  dtype: Dtype,
  i: number,
  values: ArrayLike<unknown>,
  n: number,
  stride: number,
  nullsOffset: number,
  { f64, f32, u32, u8 }: RecordViews,
  dictionary: Map<string, number> | undefined,
): void {
  const nullByte = nullsOffset + (i >> 3);
  const nullBit = 1 << (i & 7);
  const off = field.offset;
  switch (field.kind) {
    case 'f64':
    case 'f32': {
      const target = field.kind === 'f64' ? f64 : f32;
      const width = field.kind === 'f64' ? 8 : 4;
      const s = stride / width;
      const o = off / width;
      if (values instanceof Float64Array) {
        for (let r = 0; r < n; r++) target[r * s + o] = toNumber(dtype, values[r]!, r);
        return;
      }
      for (let r = 0; r < n; r++) {
        const v = values[r];
        if (isNull(v)) u8[r * stride + nullByte]! |= nullBit;
        else target[r * s + o] = toNumber(dtype, v, r);
      }
      return;
    }
    case 'u8':
      for (let r = 0; r < n; r++) {
        const v = values[r];
        if (isNull(v)) u8[r * stride + nullByte]! |= nullBit;
        else u8[r * stride + off] = v === true ? 1 : 0;
      }
      return;
    case 'dict':
      for (let r = 0; r < n; r++) {
        const v = values[r];
        if (isNull(v)) u8[r * stride + nullByte]! |= nullBit;
        else u32[(r * stride + off) / 4] = dictionary!.get(String(v))!;
      }
      return;
    default:
      throw new Error(`writeFixedColumn: ${field.kind} is not fixed-width`);
  }
}

/**
 * Writes one view's rows. `columns` holds one value array per feature, in
 * `features` order. A value its dtype cannot hold throws LARDER_ERR_VALUE
 * naming the feature and row.
 */
export function encodeRows(
  features: readonly FeatureDef[],
  keys: readonly string[],
  eventTsMs: ArrayLike<number>,
  /** Created time of each row, epoch ms (null: none); undefined when the source has no created time. */
  createdTsMs: ArrayLike<number | null> | undefined,
  columns: readonly ArrayLike<unknown>[],
  opts: EncodeRowsOptions = {},
): EncodedRows {
  const n = keys.length;
  const standalone = opts.standalone === true;
  const dictionaries = features.map((f, i) => (f.dtype === 'string' && !standalone ? dictionaryOf(columns[i]!) : undefined));
  const planned = planRecord(
    features.map((f, i) => ({ name: f.name, kind: standalone ? standaloneKind(f.dtype) : dictionaries[i] ? 'dict' : kindOf(f.dtype, columns[i]!) })),
  );
  const rowHeapStarts = standalone ? new Uint32Array(n + 1) : undefined;
  const { stride, nullsOffset } = planned;

  const records = new ArrayBuffer(n * stride);
  const views: RecordViews = { f64: new Float64Array(records), f32: new Float32Array(records), u32: new Uint32Array(records), u8: new Uint8Array(records) };
  const { f64, u32, u8 } = views;
  const heap = new Heap();
  /** Where heap offsets count from: 0, or for standalone rows the row's first heap byte. */
  let heapBase = 0;

  // Fixed-width fields a column at a time: each loop reads one array type,
  // so a Float64Array column is read without boxing its numbers.
  features.forEach((f, i) => {
    const field = planned.fields[i]!;
    if (isVariable(field.kind)) return;
    try {
      writeFixedColumn(field, f.dtype, i, columns[i]!, n, stride, nullsOffset, views, dictionaries[i]);
    } catch (e) {
      if (e instanceof LarderError && e.code === 'LARDER_ERR_VALUE') throw unstorable(`feature "${f.name}" (${f.dtype}): ${e.message}`);
      throw e;
    }
  });
  // Then row by row: the times, the key and the variable-width fields, whose
  // heap bytes follow row order.
  const variable = features.flatMap((_, i) => (isVariable(planned.fields[i]!.kind) ? [i] : []));
  for (let row = 0; row < n; row++) {
    const base = row * stride;
    f64[base / 8] = eventTsMs[row]!;
    f64[base / 8 + 3] = createdTsMs?.[row] ?? NaN;
    if (rowHeapStarts) {
      heap.align4();
      rowHeapStarts[row] = heapBase = heap.length;
    }
    const keyStart = heap.length;
    const keyLength = heap.utf8(keys[row]!);
    u32[base / 4 + 2] = keyStart - heapBase;
    u32[base / 4 + 3] = keyLength;
    if (keyLength <= INLINE_KEY_BYTES) for (let j = 0; j < keyLength; j++) u8[base + 16 + j] = heap.buf[keyStart + j]!;
    for (const i of variable) {
      const f = features[i]!;
      const field = planned.fields[i]!;
      const v = columns[i]![row];
      const at = base + field.offset;
      if (isNull(v)) {
        u8[base + nullsOffset + (i >> 3)]! |= 1 << (i & 7);
        continue;
      }
      try {
        switch (field.kind) {
          case 'str':
            u32[at / 4] = heap.length - heapBase;
            u32[at / 4 + 1] = heap.utf8(String(v));
            break;
          case 'f32list': {
            heap.align4();
            const list = Float32Array.from(v as ArrayLike<number>);
            u32[at / 4] = heap.length - heapBase;
            u32[at / 4 + 1] = list.byteLength;
            heap.bytes(new Uint8Array(list.buffer));
            break;
          }
          case 'packed': {
            // float32[] elements are float32s however they are stored (as f32list rounds them).
            const list = Array.from(v as ArrayLike<unknown>, (x) =>
              isNull(x) ? null : f.dtype === 'int64[]' ? toNumber('int64', x, row) : f.dtype === 'float32[]' ? Math.fround(toNumber('float32', x, row)) : x,
            );
            const b = pack(list);
            u32[at / 4] = heap.length - heapBase;
            u32[at / 4 + 1] = b.length;
            heap.bytes(b);
            break;
          }
        }
      } catch (e) {
        if (e instanceof LarderError && e.code === 'LARDER_ERR_VALUE') throw unstorable(`feature "${f.name}" (${f.dtype}): ${e.message}`);
        throw e;
      }
    }
    if (heap.length > 0xffffffff) throw unstorable('the view holds more than 4 GiB of keys and variable-width values');
  }
  if (rowHeapStarts) rowHeapStarts[n] = heap.length;
  return {
    fields: planned.fields.map(({ name, kind, offset }, i) => {
      const dictionary = dictionaries[i];
      return dictionary ? { name, kind, offset, dictionary: [...dictionary.keys()] } : { name, kind, offset };
    }),
    stride,
    nullsOffset,
    records: u8,
    heap: heap.buf.subarray(0, heap.length),
    ...(rowHeapStarts ? { rowHeapStarts } : {}),
  };
}

export type FieldReader = (row: number) => unknown;

/**
 * Builds the reader of one field. `records` must be 8-byte aligned; the
 * decoder guarantees it.
 */
export function fieldReader(
  field: FieldLayout,
  featureIndex: number,
  dtype: Dtype,
  stride: number,
  nullsOffset: number,
  records: Uint8Array,
  heap: Uint8Array,
): FieldReader {
  const read = valueReader(field, dtype, stride, records, heap);
  const u8 = records;
  const nullByte = nullsOffset + (featureIndex >> 3);
  const nullBit = 1 << (featureIndex & 7);
  return (row) => (u8[row * stride + nullByte]! & nullBit ? null : read(row));
}

function valueReader(field: FieldLayout, dtype: Dtype, stride: number, records: Uint8Array, heap: Uint8Array): FieldReader {
  const { buffer, byteOffset, byteLength } = records;
  const off = field.offset;
  switch (field.kind) {
    case 'f64': {
      const a = new Float64Array(buffer, byteOffset, byteLength / 8);
      const s = stride / 8;
      const o = off / 8;
      if (dtype === 'timestamp') return (row) => formatTimestamp(a[row * s + o]!);
      return (row) => a[row * s + o];
    }
    case 'f32': {
      const a = new Float32Array(buffer, byteOffset, byteLength / 4);
      const s = stride / 4;
      const o = off / 4;
      return (row) => a[row * s + o];
    }
    case 'u8':
      return (row) => records[row * stride + off] === 1;
    case 'dict': {
      // The decoder checked that every index is inside the dictionary.
      const a = new Uint32Array(buffer, byteOffset, byteLength / 4);
      const s = stride / 4;
      const o = off / 4;
      const dictionary = field.dictionary!;
      return (row) => dictionary[a[row * s + o]!];
    }
    case 'str':
    case 'f32list':
    case 'packed': {
      const a = new Uint32Array(buffer, byteOffset, byteLength / 4);
      const s = stride / 4;
      const o = off / 4;
      if (field.kind === 'str') {
        return (row) => {
          const start = a[row * s + o]!;
          return decodeUtf8(heap, start, start + a[row * s + o + 1]!);
        };
      }
      if (field.kind === 'f32list') {
        const floats = new Float32Array(heap.buffer, heap.byteOffset, Math.floor(heap.byteLength / 4));
        return (row) => {
          const start = a[row * s + o]! / 4;
          return Array.from(floats.subarray(start, start + a[row * s + o + 1]! / 4));
        };
      }
      return (row) => {
        const start = a[row * s + o]!;
        return unpack(heap.subarray(start, start + a[row * s + o + 1]!));
      };
    }
  }
}

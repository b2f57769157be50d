/**
 * One row of a view as a standalone value (a Redis string): the row's
 * record, laid out from the view's dtypes alone, followed by the row's heap
 * bytes (its key, then its strings and lists). Written by the same encoder
 * as the bundle's records (encodeRows with `standalone`), read by the same
 * row decoder, so a value read from Redis is the value the bundle would
 * hold for the same source row.
 *
 *   0       stride  the record (see ViewLayout in format.ts): event time
 *                   at 0, created time at 24 (NaN: none), key reference,
 *                   fields, null bitmap; heap offsets count from `stride`
 *   stride  ...     the row's heap bytes
 *
 * The layout depends only on the features' names, dtypes and order, and
 * `fingerprint` names it: whoever stores values keys them by it, so a value
 * written under one definition of a view is never read under another.
 */
import type { Dtype } from '../dtypes.js';
import { hashKey } from '../keys.js';
import type { FeatureDef } from '../repo/types.js';
import type { FieldLayout } from './format.js';
import { RowDecoder } from './row-decoder.js';
import { type FieldReader, encodeRows, fieldReader, isVariable, planRecord, standaloneKind } from './rows.js';
import { decodeUtf8 } from './utf8.js';

/** Bumped whenever the standalone layout changes; part of every fingerprint. */
export const ROW_VALUE_VERSION = 1;

/** A value that is not a row of this layout (truncated, or written by something else). */
export class RowValueError extends Error {}

export interface DecodedRowValue {
  key: string;
  eventTsMs: number;
  /** null when the source has no created time. */
  createdTsMs: number | null;
  values: unknown[];
}

/** Row values end to end (RowValueCodec.encodePacked): row r's value is `bytes[offsets[r], offsets[r + 1])`. */
export interface PackedRowValues {
  bytes: Uint8Array;
  /** n + 1 byte offsets into `bytes`, ascending. */
  offsets: Uint32Array;
}

/** Row r of packed values, as a view (no copy). */
export const packedValue = (packed: PackedRowValues, r: number): Uint8Array => packed.bytes.subarray(packed.offsets[r]!, packed.offsets[r + 1]!);

/** The smallest scratch buffer kept for decoding, bytes. */
const MIN_SCRATCH = 1024;

export class RowValueCodec {
  /** Short text naming the layout (version, feature names, dtypes, order): 8 hex digits. */
  readonly fingerprint: string;
  readonly stride: number;
  private readonly fields: FieldLayout[];
  private readonly nullsOffset: number;
  private readonly dtypes: Dtype[];
  /** Variable-width fields: their (offset, length) pairs must lie inside the value. */
  private readonly variable: { offset4: number; unit: number }[];
  // Decoding copies a value into an 8-aligned scratch buffer the decoder
  // reads; it is rebuilt only when a value outgrows it. Decoding is
  // synchronous, so one scratch serves every caller.
  private scratch = new Uint8Array(0);
  private decoder!: RowDecoder;
  private f64!: Float64Array;
  private u32!: Uint32Array;

  constructor(readonly features: readonly FeatureDef[]) {
    const planned = planRecord(features.map((f) => ({ name: f.name, kind: standaloneKind(f.dtype) })));
    this.fields = planned.fields.map(({ name, kind, offset }) => ({ name, kind, offset }));
    this.stride = planned.stride;
    this.nullsOffset = planned.nullsOffset;
    this.dtypes = features.map((f) => f.dtype);
    this.variable = this.fields.filter((f) => isVariable(f.kind)).map((f) => ({ offset4: f.offset / 4, unit: f.kind === 'f32list' ? 4 : 1 }));
    const described = `${ROW_VALUE_VERSION}|${features.map((f) => `${f.name}:${f.dtype}`).join('|')}`;
    this.fingerprint = hashKey(described).toString(16).padStart(8, '0');
    this.grow(MIN_SCRATCH);
  }

  /**
   * Encodes rows (row i of every array belongs to keys[i]) end to end into
   * one buffer: row r's value is `bytes[offsets[r], offsets[r + 1])`. One
   * allocation per call, not one per row, so that writing a million rows
   * does not leave a million small buffers to the garbage collector.
   */
  encodePacked(
    keys: readonly string[],
    eventTsMs: ArrayLike<number>,
    createdTsMs: ArrayLike<number | null> | undefined,
    columns: readonly ArrayLike<unknown>[],
  ): PackedRowValues {
    // A value its dtype cannot hold throws LARDER_ERR_VALUE naming the feature and row.
    const encoded = encodeRows(this.features, keys, eventTsMs, createdTsMs, columns, { standalone: true });
    if (encoded.stride !== this.stride) throw new Error('RowValueCodec: the encoder planned another layout');
    const starts = encoded.rowHeapStarts!;
    const stride = this.stride;
    const n = keys.length;
    const size = n * stride + starts[n]! - starts[0]!;
    const bytes = new Uint8Array(size);
    const offsets = new Uint32Array(n + 1);
    // Rows but the last are copied as u32s (a short loop per row costs less
    // than two subarrays and two set calls): the stride is a multiple of 8,
    // and each row's heap bytes start 4-aligned and run to the next row's
    // start, so every part is 4-aligned and a multiple of 4 bytes long. The
    // last row's heap bytes end where the heap does, maybe not on 4.
    const out = new Uint32Array(bytes.buffer, 0, size >> 2);
    const records = new Uint32Array(encoded.records.buffer, encoded.records.byteOffset, encoded.records.byteLength >> 2);
    const heap = new Uint32Array(encoded.heap.buffer, encoded.heap.byteOffset, encoded.heap.byteLength >> 2);
    const stride4 = stride >> 2;
    let at = 0;
    for (let r = 0; r < n - 1; r++) {
      offsets[r] = at << 2;
      const record = r * stride4;
      for (let j = 0; j < stride4; j++) out[at + j] = records[record + j]!;
      at += stride4;
      const end = starts[r + 1]! >> 2;
      for (let j = starts[r]! >> 2; j < end; j++) out[at++] = heap[j]!;
    }
    if (n > 0) {
      const last = at << 2;
      offsets[n - 1] = last;
      bytes.set(encoded.records.subarray((n - 1) * stride, n * stride), last);
      bytes.set(encoded.heap.subarray(starts[n - 1]!, starts[n]!), last + stride);
    }
    offsets[n] = size;
    return { bytes, offsets };
  }

  /**
   * Encodes rows as encodePacked does and hands each row's value to `sink`.
   * Values are fresh arrays the caller may keep.
   */
  encode(
    keys: readonly string[],
    eventTsMs: ArrayLike<number>,
    createdTsMs: ArrayLike<number | null> | undefined,
    columns: readonly ArrayLike<unknown>[],
    sink: (row: number, value: Uint8Array) => void,
  ): void {
    const { bytes, offsets } = this.encodePacked(keys, eventTsMs, createdTsMs, columns);
    for (let r = 0; r < keys.length; r++) sink(r, bytes.slice(offsets[r]!, offsets[r + 1]!));
  }

  /** One value, encoded. */
  encodeOne(key: string, eventTsMs: number, createdTsMs: number | null, values: readonly unknown[]): Uint8Array {
    let out: Uint8Array | undefined;
    this.encode([key], [eventTsMs], [createdTsMs], values.map((v) => [v]), (_r, v) => (out = v));
    return out!;
  }

  /** The event time of a value, without decoding it (for newest-wins checks). */
  static eventTsMs(value: Uint8Array): number {
    return new DataView(value.buffer, value.byteOffset, value.byteLength).getFloat64(0, true);
  }

  /** Decodes a value; throws RowValueError when it is not a row of this layout. */
  decode(value: Uint8Array): DecodedRowValue {
    const stride = this.stride;
    if (value.length < stride) throw new RowValueError(`value of ${value.length} bytes is shorter than the ${stride}-byte record`);
    if (value.length > this.scratch.length) this.grow(value.length);
    const scratch = this.scratch;
    scratch.set(value, 0);
    const heapLength = value.length - stride;
    const u32 = this.u32;
    const keyStart = u32[2]!;
    const keyLength = u32[3]!;
    if (keyStart + keyLength > heapLength) throw new RowValueError('key reference points outside the value');
    for (const v of this.variable) {
      const at = u32[v.offset4]!;
      const len = u32[v.offset4 + 1]!;
      if (at + len > heapLength || at % v.unit !== 0) throw new RowValueError('a field points outside the value');
    }
    const created = this.f64[3]!;
    // Null fields hold zeros, which read as empty references: checked above either way.
    const values = this.decoder.values(0);
    const key = decodeUtf8(scratch, stride + keyStart, stride + keyStart + keyLength);
    // Stale bytes of a longer earlier value stay past this one; no reader goes there (checked above).
    return { key, eventTsMs: this.f64[0]!, createdTsMs: Number.isNaN(created) ? null : created, values };
  }

  private grow(size: number): void {
    let capacity = Math.max(MIN_SCRATCH, this.scratch.length);
    while (capacity < size) capacity *= 2;
    const buffer = new ArrayBuffer(capacity);
    this.scratch = new Uint8Array(buffer);
    this.f64 = new Float64Array(buffer, 0, this.stride / 8);
    this.u32 = new Uint32Array(buffer, 0, this.stride / 4);
    const records = new Uint8Array(buffer, 0, this.stride);
    const heap = new Uint8Array(buffer, this.stride, capacity - this.stride);
    const readers: FieldReader[] = this.fields.map((field, i) => fieldReader(field, i, this.dtypes[i]!, this.stride, this.nullsOffset, records, heap));
    this.decoder = new RowDecoder(this.fields, this.dtypes, readers, this.stride, this.nullsOffset, records);
  }
}

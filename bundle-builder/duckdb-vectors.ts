/**
 * Reads DuckDB result vectors straight from their memory (through
 * @duckdb/node-bindings) into typed arrays. The value-by-value accessors of
 * @duckdb/node-api allocate an object per value and test validity with
 * BigInt arithmetic, which costs more than the snapshot query itself at a
 * million keys; here a numeric column is a typed-array copy and a null
 * check is a byte test. Vectors of fetched chunks are flat (the C API
 * flattens them), so element i lives at data[i]. package.json pins
 * @duckdb/node-bindings to the exact version @duckdb/node-api depends on, so
 * that both hold the one native module and its handles are interchangeable.
 */
import duckdb from '@duckdb/node-bindings';
import { decodeUtf8 } from '../src/core/bundle/utf8.js';

export type Vector = duckdb.Vector;

/** Validity bitmap: bit i (byte i>>3, bit i&7) set = valid. null = every row valid. */
export type Validity = Uint8Array | null;

export function vectorOf(chunk: duckdb.DataChunk, column: number): Vector {
  return duckdb.data_chunk_get_vector(chunk, column);
}

export function validityOf(vector: Vector, rows: number): Validity {
  if (rows === 0) return null;
  const v = duckdb.vector_get_validity(vector, Math.ceil(rows / 64) * 8) as Uint8Array | null;
  return v && v.length > 0 ? v : null;
}

export const isValid = (validity: Validity, i: number): boolean => validity === null || (validity[i >> 3]! & (1 << (i & 7))) !== 0;

/** The vector's data as bytes; copied when DuckDB's buffer is not aligned for `align`-byte views. */
function dataBytes(vector: Vector, byteCount: number, align: number): Uint8Array {
  const data = duckdb.vector_get_data(vector, byteCount);
  return data.byteOffset % align === 0 ? data : data.slice();
}

const TWO_32 = 4294967296;

/**
 * BIGINT values as doubles, without BigInt: value = hi * 2^32 + lo, exact
 * within ±2^53. Returns the index of the first valid value outside the safe
 * range, or -1.
 */
export function readBigInts(vector: Vector, rows: number, validity: Validity, out: Float64Array, at: number): number {
  if (rows === 0) return -1;
  const bytes = dataBytes(vector, rows * 8, 4);
  const i32 = new Int32Array(bytes.buffer, bytes.byteOffset, rows * 2);
  let bad = -1;
  for (let i = 0; i < rows; i++) {
    if (validity !== null && (validity[i >> 3]! & (1 << (i & 7))) === 0) continue;
    const v = i32[2 * i + 1]! * TWO_32 + (i32[2 * i]! >>> 0);
    if (bad < 0 && (v > Number.MAX_SAFE_INTEGER || v < Number.MIN_SAFE_INTEGER)) bad = i;
    out[at + i] = v;
  }
  return bad;
}

/** The exact BIGINT at row i, for error messages. */
export function bigIntAt(vector: Vector, rows: number, i: number): bigint {
  const bytes = dataBytes(vector, rows * 8, 8);
  return new BigInt64Array(bytes.buffer, bytes.byteOffset, rows)[i]!;
}

export function readDoubles(vector: Vector, rows: number, out: Float64Array, at: number): void {
  if (rows === 0) return;
  const bytes = dataBytes(vector, rows * 8, 8);
  out.set(new Float64Array(bytes.buffer, bytes.byteOffset, rows), at);
}

export function readBooleans(vector: Vector, rows: number, out: Uint8Array, at: number): void {
  if (rows === 0) return;
  out.set(duckdb.vector_get_data(vector, rows), at);
}

/**
 * VARCHAR reader. DuckDB's string_t is 16 bytes: u32 length, then the bytes
 * inline when at most 12, else a 4-byte prefix and a pointer.
 */
export class StringReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(vector: Vector, rows: number) {
    this.bytes = rows === 0 ? new Uint8Array(0) : duckdb.vector_get_data(vector, rows * 16);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }
  get(i: number): string {
    const at = i * 16;
    const len = this.view.getUint32(at, true);
    if (len <= 12) return decodeUtf8(this.bytes, at + 4, at + 4 + len);
    const heap = duckdb.get_data_from_pointer(this.bytes.buffer as ArrayBuffer, this.bytes.byteOffset + at + 8, len);
    return decodeUtf8(heap, 0, len);
  }
}

/** LIST vector: per row (offset, length) into the flat child vector. */
export class ListReader {
  readonly child: Vector;
  readonly childSize: number;
  readonly childValidity: Validity;
  private readonly entries: Uint32Array;
  constructor(vector: Vector, rows: number) {
    const bytes = rows === 0 ? new Uint8Array(0) : dataBytes(vector, rows * 16, 4);
    // Each entry is two u64 (offset, length); chunk-local values fit in the low words.
    this.entries = new Uint32Array(bytes.buffer, bytes.byteOffset, rows * 4);
    this.child = duckdb.list_vector_get_child(vector);
    this.childSize = duckdb.list_vector_get_size(vector);
    this.childValidity = validityOf(this.child, this.childSize);
  }
  offset(i: number): number {
    return this.entries[i * 4]! + this.entries[i * 4 + 1]! * TWO_32;
  }
  length(i: number): number {
    return this.entries[i * 4 + 2]! + this.entries[i * 4 + 3]! * TWO_32;
  }
  floats(): Float32Array {
    if (this.childSize === 0) return new Float32Array(0);
    const bytes = dataBytes(this.child, this.childSize * 4, 4);
    return new Float32Array(bytes.buffer, bytes.byteOffset, this.childSize);
  }
}

/**
 * Streams a snapshot table out of DuckDB into the columns encodeBundle
 * takes: canonical key strings, event times and one value array per feature.
 * Numbers land in Float64Arrays; a column becomes a plain array only when it
 * holds nulls (a typed array cannot), so a dense numeric column is never one
 * JS value per row.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Dtype, JoinKeyDtype } from '../src/core/dtypes.js';
import { KEY_SEPARATOR, entityKeyString } from '../src/core/keys.js';
import { LarderError } from '../src/core/errors.js';
import {
  ListReader, StringReader, type Validity, type Vector, bigIntAt, isValid, readBigInts, readBooleans, readDoubles,
  validityOf, vectorOf,
} from './duckdb-vectors.js';

export interface SnapshotColumns {
  rows: number;
  keys: string[];
  eventTsMs: Float64Array;
  /** Created time of each row, epoch ms; NaN where the row has none. */
  createdTsMs: Float64Array;
  columns: Record<string, ArrayLike<unknown>>;
  /** Keys whose winner only the source position decided. */
  ties: number;
}

/** A value the bundle cannot hold: LARDER_ERR_VALUE; the caller adds the file and source. */
const unstorable = (message: string) => new LarderError('LARDER_ERR_VALUE', message);

interface Sink {
  /** Copies `rows` values of `vector` to positions [at, at + rows). */
  read(vector: Vector, rows: number, at: number, keyOf: (i: number) => string): void;
  finish(): ArrayLike<unknown>;
}

/** int64, float32, float64 and timestamp: numbers, with a null mask. */
class NumberSink implements Sink {
  readonly values: Float64Array;
  private nulls: Uint8Array | null = null;
  constructor(private readonly n: number, private readonly bigint: boolean, private readonly what: string) {
    this.values = new Float64Array(n);
  }
  read(vector: Vector, rows: number, at: number, keyOf: (i: number) => string): void {
    const validity = validityOf(vector, rows);
    if (this.bigint) {
      const bad = readBigInts(vector, rows, validity, this.values, at);
      if (bad >= 0) {
        throw unstorable(`${this.what}: value ${bigIntAt(vector, rows, bad)} of key ${JSON.stringify(keyOf(bad))} is outside ±2^53, the integer range larder stores exactly; store it as a string`);
      }
    } else readDoubles(vector, rows, this.values, at);
    if (validity === null) return;
    for (let i = 0; i < rows; i++) {
      if (!isValid(validity, i)) (this.nulls ??= new Uint8Array(this.n))[at + i] = 1;
    }
  }
  finish(): ArrayLike<number | null> {
    const nulls = this.nulls;
    if (!nulls) return this.values;
    const out = new Array<number | null>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = nulls[i] ? null : this.values[i]!;
    return out;
  }
}

class BoolSink implements Sink {
  private readonly bytes: Uint8Array;
  private readonly out: (boolean | null)[];
  constructor(n: number) {
    this.bytes = new Uint8Array(n);
    this.out = new Array<boolean | null>(n);
  }
  read(vector: Vector, rows: number, at: number): void {
    readBooleans(vector, rows, this.bytes, at);
    const validity = validityOf(vector, rows);
    for (let i = 0; i < rows; i++) this.out[at + i] = isValid(validity, i) ? this.bytes[at + i] !== 0 : null;
  }
  finish(): (boolean | null)[] {
    return this.out;
  }
}

class StringSink implements Sink {
  private readonly out: (string | null)[];
  constructor(n: number) {
    this.out = new Array<string | null>(n);
  }
  read(vector: Vector, rows: number, at: number): void {
    const validity = validityOf(vector, rows);
    const reader = new StringReader(vector, rows);
    for (let i = 0; i < rows; i++) this.out[at + i] = isValid(validity, i) ? reader.get(i) : null;
  }
  finish(): (string | null)[] {
    return this.out;
  }
}

/** float32[]: a Float32Array per row, or a number[] when the list holds nulls. */
class FloatListSink implements Sink {
  private readonly out: (Float32Array | (number | null)[] | null)[];
  constructor(n: number) {
    this.out = new Array(n);
  }
  read(vector: Vector, rows: number, at: number): void {
    const validity = validityOf(vector, rows);
    const list = new ListReader(vector, rows);
    const floats = list.floats();
    const cv = list.childValidity;
    for (let i = 0; i < rows; i++) {
      if (!isValid(validity, i)) {
        this.out[at + i] = null;
        continue;
      }
      const start = list.offset(i);
      const end = start + list.length(i);
      let hasNull = false;
      if (cv !== null) for (let j = start; j < end && !hasNull; j++) hasNull = !isValid(cv, j);
      if (!hasNull) this.out[at + i] = floats.slice(start, end);
      else {
        const arr = new Array<number | null>(end - start);
        for (let j = start; j < end; j++) arr[j - start] = isValid(cv, j) ? floats[j]! : null;
        this.out[at + i] = arr;
      }
    }
  }
  finish(): ArrayLike<unknown> {
    return this.out;
  }
}

/** string[] and int64[]: a plain array per row (elements may be null). */
class ListSink implements Sink {
  private readonly out: (unknown[] | null)[];
  constructor(n: number, private readonly element: 'string' | 'int64', private readonly what: string) {
    this.out = new Array(n);
  }
  read(vector: Vector, rows: number, at: number, keyOf: (i: number) => string): void {
    const validity = validityOf(vector, rows);
    const list = new ListReader(vector, rows);
    const cv = list.childValidity;
    let get: (j: number) => unknown;
    if (this.element === 'string') {
      const strings = new StringReader(list.child, list.childSize);
      get = (j) => strings.get(j);
    } else {
      const ints = new Float64Array(list.childSize);
      const bad = readBigInts(list.child, list.childSize, cv, ints, 0);
      if (bad >= 0) {
        let row = 0;
        while (row < rows - 1 && list.offset(row + 1) <= bad) row++;
        throw unstorable(`${this.what}: element ${bigIntAt(list.child, list.childSize, bad)} of key ${JSON.stringify(keyOf(row))} is outside ±2^53, the integer range larder stores exactly`);
      }
      get = (j) => ints[j];
    }
    for (let i = 0; i < rows; i++) {
      if (!isValid(validity, i)) {
        this.out[at + i] = null;
        continue;
      }
      const start = list.offset(i);
      const len = list.length(i);
      const arr = new Array<unknown>(len);
      for (let j = 0; j < len; j++) arr[j] = isValid(cv, start + j) ? get(start + j) : null;
      this.out[at + i] = arr;
    }
  }
  finish(): ArrayLike<unknown> {
    return this.out;
  }
}

function sinkFor(dtype: Dtype, n: number, what: string): Sink {
  switch (dtype) {
    case 'int64':
    case 'timestamp':
      return new NumberSink(n, true, what);
    case 'float32':
    case 'float64':
      return new NumberSink(n, false, what);
    case 'bool':
      return new BoolSink(n);
    case 'string':
      return new StringSink(n);
    case 'float32[]':
      return new FloatListSink(n);
    case 'string[]':
      return new ListSink(n, 'string', what);
    case 'int64[]':
      return new ListSink(n, 'int64', what);
  }
}

/** Reads join key columns of one chunk into canonical key strings. */
function readKeys(
  vectors: Vector[],
  joinKeys: readonly { name: string; dtype: JoinKeyDtype }[],
  rows: number,
  out: string[],
  at: number,
  what: string,
): void {
  const parts = new Array<string | number>(joinKeys.length);
  const readers = joinKeys.map((jk, c) => {
    if (jk.dtype === 'string') {
      const r = new StringReader(vectors[c]!, rows);
      return (i: number) => {
        const s = r.get(i);
        if (s.includes(KEY_SEPARATOR)) throw unstorable(`${what}, join key "${jk.name}": value ${JSON.stringify(s)} contains U+001F, which separates composite key parts`);
        return s;
      };
    }
    const ints = new Float64Array(rows);
    const bad = readBigInts(vectors[c]!, rows, null, ints, 0);
    if (bad >= 0) {
      throw unstorable(`${what}, join key "${jk.name}": value ${bigIntAt(vectors[c]!, rows, bad)} is outside ±2^53; use a string join key`);
    }
    return (i: number) => ints[i]!;
  });
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < readers.length; c++) parts[c] = readers[c]!(i);
    out[at + i] = entityKeyString(parts);
  }
}

export interface ReadSnapshotOptions {
  /** For messages: `feature view "x"`. */
  what: string;
  joinKeys: readonly { name: string; dtype: JoinKeyDtype }[];
  features: readonly { name: string; dtype: Dtype }[];
  /** Called after each chunk with the rows read so far. */
  onRows?: (rowsRead: number) => void;
}

/** The chunk type DuckDB streams; only its rowCount and raw chunk are read. */
type Chunk = NonNullable<Awaited<ReturnType<Awaited<ReturnType<DuckDBConnection['stream']>>['fetchChunk']>>>;

/** Reads DuckDB chunks of a snapshot into columns for exactly `rows` rows. */
class ColumnsReader {
  private readonly keys: string[];
  private readonly eventTsMs: Float64Array;
  private readonly createdTsMs: Float64Array;
  private readonly sinks: Sink[];
  private ties = 0;
  at = 0;

  constructor(private readonly rows: number, private readonly opts: ReadSnapshotOptions) {
    this.keys = new Array<string>(rows);
    this.eventTsMs = new Float64Array(rows);
    this.createdTsMs = new Float64Array(rows);
    this.sinks = opts.features.map((f) => sinkFor(f.dtype, rows, `${opts.what}, feature "${f.name}"`));
  }

  read(chunk: Chunk): void {
    const { opts, keys, eventTsMs, createdTsMs, sinks, at } = this;
    const n = chunk.rowCount;
    const nKeys = opts.joinKeys.length;
    if (at + n > this.rows) throw new LarderError('LARDER_ERR_INTERNAL', `readSnapshot: the snapshot holds more than the ${this.rows} rows counted`);
    const raw = chunk.chunk;
    readKeys(Array.from({ length: nKeys }, (_, c) => vectorOf(raw, c)), opts.joinKeys, n, keys, at, opts.what);
    const eventVector = vectorOf(raw, nKeys);
    readBigInts(eventVector, n, null, eventTsMs, at);
    const createdVector = vectorOf(raw, nKeys + 1);
    const createdValidity = validityOf(createdVector, n);
    readBigInts(createdVector, n, createdValidity, createdTsMs, at);
    for (let i = 0; i < n; i++) if (!isValid(createdValidity, i)) createdTsMs[at + i] = NaN;
    const keyOf = (i: number) => keys[at + i]!;
    sinks.forEach((sink, f) => sink.read(vectorOf(raw, nKeys + 2 + f), n, at, keyOf));
    const tieVector = vectorOf(raw, nKeys + 2 + sinks.length);
    const tieValidity: Validity = validityOf(tieVector, n);
    const tieBytes = new Uint8Array(n);
    readBooleans(tieVector, n, tieBytes, 0);
    for (let i = 0; i < n; i++) if (tieBytes[i] && isValid(tieValidity, i)) this.ties++;
    this.at = at + n;
  }

  finish(): SnapshotColumns {
    if (this.at !== this.rows) throw new LarderError('LARDER_ERR_INTERNAL', `readSnapshot: read ${this.at} rows, expected ${this.rows}`);
    const columns: Record<string, ArrayLike<unknown>> = {};
    this.opts.features.forEach((f, i) => (columns[f.name] = this.sinks[i]!.finish()));
    return { rows: this.rows, keys: this.keys, eventTsMs: this.eventTsMs, createdTsMs: this.createdTsMs, columns, ties: this.ties };
  }
}

/**
 * Reads `SELECT * FROM <table>` whose columns are, in order: the join keys,
 * event time and created time (BIGINT epoch ms; created may be null), the
 * features, and the tie flag (BOOLEAN).
 * `rows` is the table's row count (known from the snapshot step).
 */
export async function readSnapshot(conn: DuckDBConnection, sql: string, rows: number, opts: ReadSnapshotOptions): Promise<SnapshotColumns> {
  const reader = new ColumnsReader(rows, opts);
  const result = await conn.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    reader.read(chunk);
    opts.onRows?.(reader.at);
  }
  return reader.finish();
}

/**
 * Reads the same query as readSnapshot in batches of at least `batchRows`
 * rows (whole DuckDB chunks) and hands each batch's columns to `onBatch`,
 * awaiting it before the next: only a batch or two is ever held as JS
 * values, and the caller can work on one batch while DuckDB reads the next.
 * Resolves with the rows read.
 */
export async function readSnapshotBatches(
  conn: DuckDBConnection,
  sql: string,
  batchRows: number,
  opts: ReadSnapshotOptions,
  onBatch: (cols: SnapshotColumns) => void | Promise<void>,
): Promise<number> {
  const result = await conn.stream(sql);
  let held: Chunk[] = [];
  let heldRows = 0;
  let rows = 0;
  const flush = async () => {
    const reader = new ColumnsReader(heldRows, opts);
    for (const chunk of held) reader.read(chunk);
    rows += heldRows;
    held = [];
    heldRows = 0;
    opts.onRows?.(rows);
    await onBatch(reader.finish());
  };
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    held.push(chunk);
    heldRows += chunk.rowCount;
    if (heldRows >= batchRows) await flush();
  }
  if (heldRows > 0) await flush();
  return rows;
}

/**
 * A decoded bundle's data: per view, typed-array views over the bytes, one
 * key index and one reader per column, built once at open. Reads allocate
 * only the values they return. This is the file format's reader only: it
 * knows nothing of Feast requests or tiers (local-store.ts builds the
 * in-process API on top).
 */
import { LarderError } from '../errors.js';
import type { FeatureViewDef } from '../repo/types.js';
import { RowDecoder } from './row-decoder.js';
import { type FieldReader, fieldReader, isVariable } from './rows.js';
import { type DecodedBundle, type Sha256Hex, decodeBundle } from './decode.js';
import type { Block, BundleManifest, ViewLayout } from './format.js';
import { KeyIndex } from './key-index.js';

const corrupt = (msg: string) => new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `bundle is corrupt: ${msg}`);

export class BundleView {
  readonly name: string;
  readonly def: FeatureViewDef;
  readonly keys: KeyIndex;
  /** The records as doubles: a row's event time at [row * stride8], its created time (NaN: none) at + 3. */
  private readonly eventTs: Float64Array;
  private readonly stride8: number;
  private readonly readers: FieldReader[];
  private readonly decoder: RowDecoder;
  private readonly toObject: (values: readonly unknown[]) => Record<string, unknown>;

  constructor(def: FeatureViewDef, layout: ViewLayout, data: Uint8Array) {
    this.name = def.name;
    this.def = def;
    const block = (b: Block) => data.subarray(b.offset, b.offset + b.length);
    const records = block(layout.records);
    const heap = block(layout.heap);
    const slots = new Int32Array(data.buffer, data.byteOffset + layout.slots.offset, layout.slots.length / 4);
    checkSlots(slots, layout.rows, def.name);
    this.keys = new KeyIndex(slots, records, layout.stride, heap, layout.rows);
    this.eventTs = new Float64Array(records.buffer, records.byteOffset, records.byteLength / 8);
    this.stride8 = layout.stride / 8;
    this.toObject = objectMaker(def.features.map((f) => f.name));
    const u32 = new Uint32Array(records.buffer, records.byteOffset, records.byteLength / 4);
    checkHeapRefs(u32, layout.stride / 4, 2, layout.rows, heap.length, `view "${def.name}" keys`, 1);
    const fields = def.features.map((f) => {
      const field = layout.fields.find((c) => c.name === f.name);
      if (!field) throw corrupt(`view "${def.name}" has no field for feature "${f.name}"`);
      if (isVariable(field.kind)) {
        checkHeapRefs(u32, layout.stride / 4, field.offset / 4, layout.rows, heap.length, `view "${def.name}", feature "${f.name}"`, field.kind === 'f32list' ? 4 : 1);
      }
      if (field.kind === 'dict') checkDictionaryRefs(u32, layout.stride / 4, field.offset / 4, layout.rows, field.dictionary!.length, `view "${def.name}", feature "${f.name}"`);
      return field;
    });
    const dtypes = def.features.map((f) => f.dtype);
    this.readers = fields.map((field, i) => fieldReader(field, i, dtypes[i]!, layout.stride, layout.nullsOffset, records, heap));
    this.decoder = new RowDecoder(fields, dtypes, this.readers, layout.stride, layout.nullsOffset, records);
  }

  get keyCount(): number {
    return this.keys.size;
  }

  rowOf(key: string): number {
    return this.keys.rowOf(key);
  }

  eventTsMs(row: number): number {
    return this.eventTs[row * this.stride8]!;
  }

  /** The row's created time, epoch ms, or null when the source has none. */
  createdTsMs(row: number): number | null {
    const t = this.eventTs[row * this.stride8 + 3]!;
    return Number.isNaN(t) ? null : t;
  }

  /** One feature value of a row (by feature index in the view). */
  value(row: number, featureIndex: number): unknown {
    return this.readers[featureIndex]!(row);
  }

  /** The row as { feature: value }. */
  object(row: number): Record<string, unknown> {
    return this.toObject(this.decoder.values(row));
  }

  /** Every feature value of the row, decoded, in definition order. */
  values(row: number): unknown[] {
    return this.decoder.values(row);
  }

  /** The whole row decoded, with its times (the shape of a tier's Row). */
  row(row: number): { eventTsMs: number; createdTsMs: number | null; values: unknown[] } {
    return { eventTsMs: this.eventTsMs(row), createdTsMs: this.createdTsMs(row), values: this.decoder.values(row) };
  }

  /** Feature `featureIndex` (a number dtype) of the rows `records[i]`, as doubles; see RowDecoder.readNumbers. */
  readNumbers(featureIndex: number, records: Int32Array, out: Float64Array, nulls: Uint8Array): void {
    this.decoder.readNumbers(featureIndex, records, out, nulls);
  }

  /** Feature `featureIndex` of the rows `records[i]`, as values; entries whose record is -1 are left as they are. */
  readValues(featureIndex: number, records: Int32Array, out: unknown[]): void {
    this.decoder.readValues(featureIndex, records, out);
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A function turning a row's values into { name: value }. An object literal
 * made once per view builds the object about five times faster than
 * assigning twenty properties by name (about 50 ns against 280); where code
 * cannot be compiled at run time (a strict Content-Security-Policy) or a
 * name is not a plain identifier, properties are assigned one by one.
 */
function objectMaker(names: readonly string[]): (values: readonly unknown[]) => Record<string, unknown> {
  if (names.every((n) => IDENTIFIER.test(n) && n !== '__proto__')) {
    try {
      return new Function('v', `return { ${names.map((n, i) => `${n}: v[${i}]`).join(', ')} };`) as (values: readonly unknown[]) => Record<string, unknown>;
    } catch {
      // Compiling is not allowed here: assign below.
    }
  }
  const template = Object.fromEntries(names.map((n) => [n, null]));
  return (values) => {
    const out: Record<string, unknown> = { ...template };
    for (let i = 0; i < values.length; i++) out[names[i]!] = values[i];
    return out;
  };
}

function checkSlots(slots: Int32Array, rows: number, view: string): void {
  let used = 0;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s < 0 || s > rows) throw corrupt(`view "${view}": key table points past the rows`);
    if (s !== 0) used++;
  }
  if (used !== rows) throw corrupt(`view "${view}": key table holds ${used} keys, expected ${rows}`);
}

/** Every dictionary index at `at` in each record must be inside the dictionary (null rows hold 0). */
function checkDictionaryRefs(u32: Uint32Array, stride4: number, at: number, rows: number, entries: number, what: string): void {
  for (let r = 0; r < rows; r++) {
    if (u32[r * stride4 + at]! >= entries) throw corrupt(`${what}: row ${r} points outside the dictionary`);
  }
}

/** Every (offset, length) pair at `at` in each record must lie inside the heap. */
function checkHeapRefs(u32: Uint32Array, stride4: number, at: number, rows: number, heapLength: number, what: string, unit: number): void {
  for (let r = 0; r < rows; r++) {
    const start = u32[r * stride4 + at]!;
    const len = u32[r * stride4 + at + 1]!;
    if (start + len > heapLength || start % unit !== 0 || len % unit !== 0) throw corrupt(`${what}: row ${r} points outside the heap`);
  }
}

/** A decoded bundle: its manifest and one BundleView per online view it holds. */
export class BundleData {
  readonly manifest: BundleManifest;
  readonly byteLength: number;
  private readonly views = new Map<string, BundleView>();

  private constructor(decoded: DecodedBundle) {
    this.manifest = decoded.manifest;
    this.byteLength = decoded.byteLength;
    for (const layout of decoded.layout.views) {
      const def = decoded.manifest.repo.featureViews.find((v) => v.name === layout.name);
      if (!def) throw corrupt(`layout names view "${layout.name}", which has no definition`);
      this.views.set(layout.name, new BundleView(def, layout, decoded.data));
    }
  }

  /** Decodes and verifies bundle bytes (any runtime). */
  static async decode(bytes: Uint8Array, sha256?: Sha256Hex): Promise<BundleData> {
    return new BundleData(await decodeBundle(bytes, sha256));
  }

  get version(): number {
    return this.manifest.version;
  }

  view(name: string): BundleView | undefined {
    return this.views.get(name);
  }

  viewNames(): string[] {
    return [...this.views.keys()];
  }
}

/**
 * Reading rows back: whole rows (RowDecoder.values) for get() and tiers,
 * and one feature across many rows (readNumbers, readValues) for answers.
 */
import { LarderError } from '../errors.js';
import { type Dtype, isNumberDtype } from '../dtypes.js';
import { formatTimestamp } from '../time.js';
import type { FieldKind, FieldLayout } from './format.js';
import { type FieldReader, isVariable } from './rows.js';

/** Feature indexes and their offsets (in units of the kind's width) for one kind of field. */
interface KindPlan {
  features: Int32Array;
  offsets: Int32Array;
}

function kindPlan(fields: readonly FieldLayout[], kind: FieldKind, width: number): KindPlan {
  const picked = [...fields.keys()].filter((i) => fields[i]!.kind === kind);
  return { features: Int32Array.from(picked), offsets: Int32Array.from(picked, (i) => fields[i]!.offset / width) };
}

/**
 * Decodes whole rows, and reads one feature across many rows. Fixed-width
 * fields are read kind by kind in tight loops over typed arrays, with no
 * call per field: one closure call per field (fieldReader) cost about as
 * much as the memory reads themselves. Variable-width fields, rare and
 * costlier, use their readers (`readers`, one per field, as fieldReader
 * makes them).
 */
export class RowDecoder {
  private readonly f64: Float64Array;
  private readonly f32: Float32Array;
  private readonly u32: Uint32Array;
  private readonly u8: Uint8Array;
  private readonly stride: number;
  private readonly count: number;
  private readonly doubles: KindPlan;
  private readonly floats: KindPlan;
  private readonly bools: KindPlan;
  private readonly dicts: KindPlan;
  private readonly dictionaries: (readonly string[])[];
  private readonly variable: { feature: number; read: FieldReader }[];
  private readonly nullsOffset: number;
  private readonly nullBytes: number;
  /** Timestamp features: stored as epoch ms, returned formatted. */
  private readonly timestamps: Int32Array;
  /** Per feature: its kind, and for f64 and f32 its offset in the record in units of their width. */
  private readonly kinds: readonly FieldKind[];
  private readonly dtypes: readonly Dtype[];
  private readonly offsets: Int32Array;
  private readonly readers: readonly FieldReader[];

  constructor(fields: readonly FieldLayout[], dtypes: readonly Dtype[], readers: readonly FieldReader[], stride: number, nullsOffset: number, records: Uint8Array) {
    const { buffer, byteOffset, byteLength } = records;
    this.f64 = new Float64Array(buffer, byteOffset, byteLength / 8);
    this.f32 = new Float32Array(buffer, byteOffset, byteLength / 4);
    this.u32 = new Uint32Array(buffer, byteOffset, byteLength / 4);
    this.u8 = records;
    this.stride = stride;
    this.count = fields.length;
    this.doubles = kindPlan(fields, 'f64', 8);
    this.floats = kindPlan(fields, 'f32', 4);
    this.bools = kindPlan(fields, 'u8', 1);
    this.dicts = kindPlan(fields, 'dict', 4);
    this.dictionaries = [...this.dicts.features].map((i) => fields[i]!.dictionary!);
    this.variable = [...fields.keys()]
      .filter((i) => isVariable(fields[i]!.kind))
      .map((i) => ({ feature: i, read: readers[i]! }));
    this.nullsOffset = nullsOffset;
    this.nullBytes = Math.ceil(fields.length / 8);
    this.timestamps = Int32Array.from([...fields.keys()].filter((i) => dtypes[i] === 'timestamp' && fields[i]!.kind === 'f64'));
    this.kinds = fields.map((f) => f.kind);
    this.dtypes = dtypes;
    // Only numeric fields are read by offset (readNumbers); -1 marks the rest.
    this.offsets = Int32Array.from(fields, (f) => (f.kind === 'f64' ? f.offset / 8 : f.kind === 'f32' ? f.offset / 4 : -1));
    this.readers = readers;
  }

  /**
   * Feature `feature` (f64 or f32) of the rows `records[i]`, as doubles:
   * out[i] is the value and nulls[i] 1 where it is null (out[i] is then
   * NaN). Entries whose record is -1 are left as they are. Reading straight
   * into a Float64Array keeps the numbers unboxed: an array of JS values
   * holds each double as a heap object.
   */
  readNumbers(feature: number, records: Int32Array, out: Float64Array, nulls: Uint8Array): void {
    if (!isNumberDtype(this.dtypes[feature]!)) throw new LarderError('LARDER_ERR_INTERNAL', `feature ${feature} is ${this.dtypes[feature]}, not stored as numbers`);
    const stride = this.stride;
    const u8 = this.u8;
    const nullAt = this.nullsOffset + (feature >> 3);
    const nullBit = 1 << (feature & 7);
    const offset = this.offsets[feature]!;
    const wide = this.kinds[feature] === 'f64';
    const f64 = this.f64;
    const f32 = this.f32;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record < 0) continue;
      if (u8[record * stride + nullAt]! & nullBit) {
        out[i] = NaN;
        nulls[i] = 1;
      } else {
        out[i] = wide ? f64[(record * stride) / 8 + offset]! : f32[(record * stride) / 4 + offset]!;
        nulls[i] = 0;
      }
    }
  }

  /** Feature `feature` of the rows `records[i]` as JS values (null where null); entries whose record is -1 are left as they are. */
  readValues(feature: number, records: Int32Array, out: unknown[]): void {
    const read = this.readers[feature]!;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record >= 0) out[i] = read(record);
    }
  }

  /** The values of `row`, one per feature in definition order. */
  values(row: number): unknown[] {
    const out = new Array<unknown>(this.count);
    const base = row * this.stride;
    const { f64, f32, u32, u8 } = this;
    let plan = this.doubles;
    for (let j = 0; j < plan.features.length; j++) out[plan.features[j]!] = f64[base / 8 + plan.offsets[j]!];
    plan = this.floats;
    for (let j = 0; j < plan.features.length; j++) out[plan.features[j]!] = f32[base / 4 + plan.offsets[j]!];
    plan = this.dicts;
    for (let j = 0; j < plan.features.length; j++) out[plan.features[j]!] = this.dictionaries[j]![u32[base / 4 + plan.offsets[j]!]!];
    plan = this.bools;
    for (let j = 0; j < plan.features.length; j++) out[plan.features[j]!] = u8[base + plan.offsets[j]!] === 1;
    // Most rows have no nulls: a zero byte of the bitmap skips eight features.
    for (let k = 0; k < this.nullBytes; k++) {
      const bits = u8[base + this.nullsOffset + k]!;
      if (bits === 0) continue;
      for (let b = 0; b < 8; b++) if (bits & (1 << b) && k * 8 + b < this.count) out[k * 8 + b] = null;
    }
    for (let j = 0; j < this.timestamps.length; j++) {
      const i = this.timestamps[j]!;
      if (out[i] !== null) out[i] = formatTimestamp(out[i] as number);
    }
    for (const v of this.variable) out[v.feature] = v.read(row);
    return out;
  }
}

/**
 * Checks the values in a bundle's row records at decode, so that no value
 * of a bundle that decodes can make a lookup throw or answer something of
 * the wrong type: every field is stored the way its dtype is (format.ts),
 * every event time (and created time, unless NaN = none) and timestamp
 * value is a time larder stores (time.ts), int64 values are safe integers,
 * bools are 0 or 1, and msgpack lists unpack to lists of their dtype. The
 * structure (blocks inside the data, heap and dictionary references, key
 * table) is checked by decode.ts and bundle.ts.
 */
import { unpack } from 'msgpackr';
import type { Dtype } from '../dtypes.js';
import { LarderError } from '../errors.js';
import type { FeatureDef } from '../repo/types.js';
import { MAX_TIME_MS, MIN_TIME_MS, TIME_RANGE_TEXT } from '../time.js';
import type { BundleLayout, BundleManifest, FieldKind, FieldLayout, ViewLayout } from './format.js';
import { decodeUtf8 } from './utf8.js';

/** The field kinds each dtype is stored as (rows.ts writes them). */
const KINDS: Readonly<Record<Dtype, readonly FieldKind[]>> = {
  int64: ['f64'],
  float64: ['f64'],
  timestamp: ['f64'],
  float32: ['f32'],
  bool: ['u8'],
  string: ['str', 'dict'],
  'float32[]': ['f32list', 'packed'],
  'string[]': ['packed'],
  'int64[]': ['packed'],
};

/** Whether an unpacked 'packed' value is a list of its dtype's elements (nulls allowed). */
const LIST_ITEM: Readonly<Partial<Record<Dtype, (x: unknown) => boolean>>> = {
  'float32[]': (x) => typeof x === 'number',
  'string[]': (x) => typeof x === 'string',
  'int64[]': (x) => typeof x === 'number' && Number.isSafeInteger(x),
};

function isListOf(v: unknown, item: (x: unknown) => boolean): boolean {
  if (!Array.isArray(v)) return false;
  for (const x of v) if (x !== null && !item(x)) return false;
  return true;
}

export function checkRecords(manifest: BundleManifest, layout: BundleLayout, data: Uint8Array): void {
  for (const view of layout.views) {
    const def = manifest.repo.featureViews.find((v) => v.name === view.name);
    // bundle.ts rejects a layout view without a definition.
    if (def) checkView(view, def.features, data);
  }
}

function checkView(view: ViewLayout, features: readonly FeatureDef[], data: Uint8Array): void {
  const records = data.subarray(view.records.offset, view.records.offset + view.records.length);
  const heap = data.subarray(view.heap.offset, view.heap.offset + view.heap.length);
  const rows: Rows = {
    f64: new Float64Array(records.buffer, records.byteOffset, records.byteLength / 8),
    u32: new Uint32Array(records.buffer, records.byteOffset, records.byteLength / 4),
    u8: records,
    heap,
    stride: view.stride,
    count: view.rows,
  };

  /** Row r, with its key when the key's bytes are where the record says. */
  const rowName = (r: number): string => {
    const start = rows.u32[(r * rows.stride) / 4 + 2]!;
    const end = start + rows.u32[(r * rows.stride) / 4 + 3]!;
    return end <= heap.length ? `row ${r} (key ${JSON.stringify(decodeUtf8(heap, start, end).slice(0, 64))})` : `row ${r}`;
  };
  const fail = (r: number, what: string) =>
    new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `bundle is corrupt: view "${view.name}", ${rowName(r)}: ${what}`);
  const badTime = (t: number) => `${t} is not a time larder stores (whole epoch milliseconds from ${TIME_RANGE_TEXT})`;

  // Kinds first: a field read as another kind than its dtype's would answer values of the wrong type.
  const fields = features.map((f) => {
    // bundle.ts rejects a feature without a field.
    const field = view.fields.find((c) => c.name === f.name);
    if (field && !KINDS[f.dtype].includes(field.kind)) {
      throw new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `bundle is corrupt: view "${view.name}", feature "${f.name}" (${f.dtype}) is stored as ${field.kind}, which is not how ${f.dtype} is stored (${KINDS[f.dtype].join(' or ')})`);
    }
    return field;
  });
  const numbers = new NumberFields(view, features, fields);
  const bad = numbers.firstBad(rows);
  if (bad) {
    const { row, field } = bad;
    const v = rows.f64[(row * rows.stride + (field < 0 ? (field === EVENT ? 0 : 24) : fields[field]!.offset)) / 8]!;
    if (field === EVENT) throw fail(row, `event time ${badTime(v)}`);
    if (field === CREATED) throw fail(row, `created time ${badTime(v)}`);
    const f = features[field]!;
    throw fail(row, `feature "${f.name}" (${f.dtype}): ${f.dtype === 'timestamp' ? badTime(v) : `${v} is not an integer within ±2^53`}`);
  }

  features.forEach((f, i) => {
    const field = fields[i];
    if (!field) return;
    const nullAt = view.nullsOffset + (i >> 3);
    const nullBit = 1 << (i & 7);
    const at = field.offset;
    const what = `feature "${f.name}" (${f.dtype})`;
    if (field.kind === 'u8') {
      for (let row = 0; row < rows.count; row++) {
        const b = rows.u8[row * rows.stride + at]!;
        if (b > 1 && !(rows.u8[row * rows.stride + nullAt]! & nullBit)) throw fail(row, `${what}: byte ${b} is not a bool (0 or 1)`);
      }
    } else if (field.kind === 'packed') {
      const item = LIST_ITEM[f.dtype];
      if (!item) return;
      for (let row = 0; row < rows.count; row++) {
        if (rows.u8[row * rows.stride + nullAt]! & nullBit) continue;
        const problem = packedProblem(rows, at, row, item, f.dtype);
        if (problem !== undefined) throw fail(row, `${what}: ${problem}`);
      }
    }
  });
}

const EVENT = -2;
const CREATED = -1;

/**
 * The f64 values checked in every row: the event and created times, and
 * the view's timestamp and int64 features. Checked row by row in one pass,
 * all of a record's values while its cache lines are loaded: a pass per
 * field read the records once per field, which cost about as much as the
 * rest of decoding a large bundle.
 */
class NumberFields {
  /** Per checked feature: its index, its offset in the record in doubles, and its null byte and bit. */
  private readonly times: Int32Array;
  private readonly ints: Int32Array;

  constructor(view: ViewLayout, features: readonly FeatureDef[], fields: readonly (FieldLayout | undefined)[]) {
    const plan = (dtype: Dtype) => {
      const out: number[] = [];
      features.forEach((f, i) => {
        const field = fields[i];
        if (f.dtype === dtype && field) out.push(i, field.offset / 8, view.nullsOffset + (i >> 3), 1 << (i & 7));
      });
      return Int32Array.from(out);
    };
    this.times = plan('timestamp');
    this.ints = plan('int64');
  }

  /** The first row holding a bad value, and which (EVENT, CREATED or a feature index); undefined when all are good. */
  firstBad(rows: Rows): { row: number; field: number } | undefined {
    const { f64, u8, stride, count } = rows;
    const stride8 = stride / 8;
    const { times, ints } = this;
    for (let r = 0; r < count; r++) {
      const base8 = r * stride8;
      const base = r * stride;
      const event = f64[base8]!;
      if (!(event >= MIN_TIME_MS && event <= MAX_TIME_MS && Math.floor(event) === event)) return { row: r, field: EVENT };
      const created = f64[base8 + 3]!;
      // NaN: no created time.
      if (!(created >= MIN_TIME_MS && created <= MAX_TIME_MS && Math.floor(created) === created) && created === created) return { row: r, field: CREATED };
      for (let j = 0; j < times.length; j += 4) {
        const t = f64[base8 + times[j + 1]!]!;
        if (t >= MIN_TIME_MS && t <= MAX_TIME_MS && Math.floor(t) === t) continue;
        if (!(u8[base + times[j + 2]!]! & times[j + 3]!)) return { row: r, field: times[j]! };
      }
      for (let j = 0; j < ints.length; j += 4) {
        const v = f64[base8 + ints[j + 1]!]!;
        if (v >= -Number.MAX_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v) continue;
        if (!(u8[base + ints[j + 2]!]! & ints[j + 3]!)) return { row: r, field: ints[j]! };
      }
    }
    return undefined;
  }
}

/** A view's records as typed arrays, and its heap. */
interface Rows {
  f64: Float64Array;
  u32: Uint32Array;
  u8: Uint8Array;
  heap: Uint8Array;
  stride: number;
  count: number;
}

/** What is wrong with a row's msgpack list at `at` (heap offset, length), or undefined. */
function packedProblem(rows: Rows, at: number, row: number, item: (x: unknown) => boolean, dtype: Dtype): string | undefined {
  const start = rows.u32[(row * rows.stride + at) / 4]!;
  const end = start + rows.u32[(row * rows.stride + at) / 4 + 1]!;
  if (end > rows.heap.length) return 'its value lies outside the heap';
  let v: unknown;
  try {
    v = unpack(rows.heap.subarray(start, end));
  } catch (e) {
    return `its value is not valid msgpack (${(e as Error).message})`;
  }
  return isListOf(v, item) ? undefined : `its value is not a list of ${dtype.slice(0, -2)} values`;
}

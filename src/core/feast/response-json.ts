/**
 * Serializes Feast's online-features response straight to UTF-8 bytes,
 * column by column from AnswerColumns, without building the response
 * object. The text is what JSON.stringify would produce of the response,
 * except that values of float32 features are written as the shortest
 * decimal that reads back as the same float32, as Feast's protobuf JSON
 * does (see json-writer.ts). Turning the answer into objects, then a
 * JS string, then bytes was the largest single cost of answering a request.
 */
import type { FieldStatus } from '../asof.js';
import { JsonWriter } from './json-writer.js';
import type { OnlineFeaturesResponse } from './request.js';

// The fixed parts of the text, encoded once.
const encoder = new TextEncoder();
const ascii = (s: string): Uint8Array => encoder.encode(s);
const OPEN = ascii('{"metadata":{"feature_names":[');
const NAMES_END = ascii(']},"results":[');
const FIRST_VALUES = ascii('{"values":[');
const NEXT_VALUES = ascii(',{"values":[');
const STATUSES = ascii('],"statuses":[');
const STAMPS = ascii('],"event_timestamps":[');
const CLOSE = ascii(']}');
const QUOTED_STATUS: Readonly<Record<FieldStatus, Uint8Array>> = {
  PRESENT: ascii('"PRESENT"'),
  NULL_VALUE: ascii('"NULL_VALUE"'),
  NOT_FOUND: ascii('"NOT_FOUND"'),
  OUTSIDE_MAX_AGE: ascii('"OUTSIDE_MAX_AGE"'),
};

/**
 * One column: its values, or numbers (a null as NaN) when that is set; its
 * event times as text, or as epoch ms in eventTsMs when that is set.
 */
export interface JsonColumn {
  readonly values: readonly unknown[];
  readonly numbers?: Float64Array | undefined;
  readonly statuses: readonly FieldStatus[];
  readonly event_timestamps?: readonly string[];
  readonly eventTsMs?: Float64Array;
  /** Columns with the same key have the same statuses and event times (see AnswerColumn.tailKey). */
  readonly tailKey?: object | undefined;
}

/** An answer, column by column (join keys first): core's AnswerColumns, or a built response. */
export interface JsonColumns {
  /** Output names: the join keys' first, then the features'. */
  readonly joinKeyNames: readonly string[];
  /**
   * The features' output names. Their JSON text is kept per array object
   * (AnswerColumns passes one array per feature list), so an array given
   * here must not change afterwards.
   */
  readonly featureNames: readonly string[];
  readonly count: number;
  /** Column r; its arrays may be reused by the next call. */
  column(r: number): JsonColumn;
  /** Whether column r holds float32 values (scalars or lists). */
  isFloat32(r: number): boolean;
}

/** A built response as JsonColumns, with the float32 columns named by index. */
export function responseColumns(response: OnlineFeaturesResponse, float32: readonly boolean[] = []): JsonColumns {
  return {
    joinKeyNames: [],
    // A copy: the response's own array may change after it is written.
    featureNames: response.metadata.feature_names.slice(),
    count: response.results.length,
    column: (r) => response.results[r]!,
    isFloat32: (r) => float32[r] === true,
  };
}

/** How many earlier arrays, and tails, are kept for reuse. */
const REMEMBERED = 8;

/** Keeps `item` in a list bounded to the REMEMBERED newest. */
function remember<T>(list: T[], item: T): void {
  if (list.length === REMEMBERED) list.shift();
  list.push(item);
}

/** A column's statuses or event times (as text, or as epoch ms). */
type Items = readonly unknown[] | Float64Array;

/**
 * Whether two lists hold the same items. Event times in a Float64Array are
 * compared by their own loop: read in a loop shared with plain arrays, each
 * double would be boxed into a new heap object.
 */
function sameItems(a: Items, b: Items): boolean {
  if (a.length !== b.length) return false;
  if (a instanceof Float64Array) return b instanceof Float64Array && sameNumbers(a, b);
  if (b instanceof Float64Array || a[0] !== b[0] || a[a.length - 1] !== b[b.length - 1]) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameNumbers(a: Float64Array, b: Float64Array): boolean {
  if (a[0] !== b[0] || a[a.length - 1] !== b[b.length - 1]) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An array already written, and where its JSON text is. */
interface Written {
  items: Items;
  start: number;
  end: number;
}

/**
 * Statuses and event timestamps repeat from column to column (the features
 * of one view share their rows' timestamps, and are mostly PRESENT), and
 * they are most of the bytes of a wide answer: an array equal to one
 * already written is copied from the earlier text.
 */
class Repeats {
  private readonly written: Written[] = [];

  /** Writes `items`, or copies an equal array's text; returns the remembered copy of `items`. */
  write(w: JsonWriter, items: Items, writeItem: (w: JsonWriter, items: Items, i: number) => void): Items {
    // Newest first: a column most often repeats the one before it.
    for (let p = this.written.length - 1; p >= 0; p--) {
      const prior = this.written[p]!;
      if (sameItems(prior.items, items)) {
        w.repeat(prior.start, prior.end);
        return prior.items;
      }
    }
    const start = w.length;
    for (let i = 0; i < items.length; i++) {
      if (i > 0) w.byte(0x2c);
      writeItem(w, items, i);
    }
    // A copy: the columns' arrays are reused from column to column.
    const copy = items.slice();
    remember(this.written, { items: copy, start, end: w.length });
    return copy;
  }
}

/** A column's statuses and timestamps written together, and where their text is. */
interface WrittenTail {
  statuses: Items;
  stamps: Items;
  start: number;
  end: number;
  /** Where the text of the statuses alone is (inside the brackets). */
  statusesStart: number;
  statusesEnd: number;
}

/**
 * The text after a column's values: `],"statuses":[...],"event_timestamps":[...]}`.
 * Most columns of a view have the same tail (their values differ, their
 * rows do not), so a tail equal to one written before is copied whole, in
 * one call instead of four; otherwise its statuses and timestamps are each
 * written, or copied, on their own.
 */
class Tails {
  private readonly written: WrittenTail[] = [];
  /** Tails written for a column's tailKey: repeated without a comparison. */
  private readonly byKey = new Map<object, WrittenTail>();
  private readonly statuses = new Repeats();
  private readonly stamps = new Repeats();

  /** Returns the tail written or copied (where it was first written, and its statuses in it). */
  write(w: JsonWriter, column: JsonColumn): WrittenTail {
    const { statuses } = column;
    const key = column.tailKey;
    const known = key && this.byKey.get(key);
    if (known) {
      w.repeat(known.start, known.end);
      return known;
    }
    const stamps = column.eventTsMs ?? column.event_timestamps!;
    for (let p = this.written.length - 1; p >= 0; p--) {
      const prior = this.written[p]!;
      if (sameItems(prior.statuses, statuses) && sameItems(prior.stamps, stamps)) {
        w.repeat(prior.start, prior.end);
        if (key) this.byKey.set(key, prior);
        return prior;
      }
    }
    const start = w.length;
    w.chunk(STATUSES);
    const statusesStart = w.length;
    const keptStatuses = this.statuses.write(w, statuses, writeStatus);
    const statusesEnd = w.length;
    w.chunk(STAMPS);
    const keptStamps = this.stamps.write(w, stamps, column.eventTsMs ? writeTimestamp : writeValue);
    w.chunk(CLOSE);
    const written = { statuses: keptStatuses, stamps: keptStamps, start, end: w.length, statusesStart, statusesEnd };
    remember(this.written, written);
    if (key) this.byKey.set(key, written);
    return written;
  }
}

const writeStatus = (w: JsonWriter, items: Items, i: number): void => {
  const s = items[i];
  const quoted = QUOTED_STATUS[s as FieldStatus];
  if (quoted instanceof Uint8Array) w.chunk(quoted);
  else w.value(s);
};
const writeValue = (w: JsonWriter, items: Items, i: number): void => w.value(items[i]);
const writeTimestamp = (w: JsonWriter, items: Items, i: number): void => w.timestampAt(items as Float64Array, i);

/** A column's values; holes and undefined are null in JSON.stringify's arrays. */
function writeValues(w: JsonWriter, values: readonly unknown[], float32: boolean): void {
  for (let i = 0; i < values.length; i++) {
    if (i > 0) w.byte(0x2c);
    w.value(values[i] ?? null, float32);
  }
}

/** The JSON text of each feature name list written, for the lists that repeat (see JsonColumns). */
const featureNamesText = new WeakMap<readonly string[], Uint8Array>();

function writeNames(w: JsonWriter, answer: JsonColumns): void {
  w.chunk(OPEN);
  const joinKeys = answer.joinKeyNames;
  for (let i = 0; i < joinKeys.length; i++) {
    if (i > 0) w.byte(0x2c);
    w.string(joinKeys[i]!);
  }
  const names = answer.featureNames;
  if (names.length > 0) {
    if (joinKeys.length > 0) w.byte(0x2c);
    const text = featureNamesText.get(names);
    if (text) w.chunk(text);
    else {
      const start = w.length;
      for (let i = 0; i < names.length; i++) {
        if (i > 0) w.byte(0x2c);
        w.string(names[i]!);
      }
      featureNamesText.set(names, w.view().slice(start));
    }
  }
  w.chunk(NAMES_END);
}

// One writer, reused: answers are written synchronously, one at a time, and
// copied out into memory from `alloc` (the sidecar lends pooled Node
// buffers: see BufferPool).
const writer = new JsonWriter();

const newBytes = (size: number): Uint8Array<ArrayBuffer> => new Uint8Array(size);

/**
 * Where each column's text lies in the bytes feastResponseJson returned,
 * for a caller that reuses it instead of writing the same values again
 * (the served-value log): for column r (join keys first), bytes spans[4r]
 * to spans[4r+1] are the text inside the brackets of its "values" array,
 * spans[4r+2] to spans[4r+3] that of its "statuses" array (JSON items
 * separated by commas). Columns whose statuses repeat an earlier column's
 * tail point at that column's statuses text, so equal statuses spans mean
 * equal statuses (the converse need not hold).
 */
export type ResponseSpans = Int32Array;

/**
 * The response's JSON as UTF-8 bytes, in memory from `alloc` (called once,
 * with the exact size); with `spans` (at least 4 per column), where each
 * column's values and statuses are in them (see ResponseSpans).
 */
export function feastResponseJson<B extends Uint8Array = Uint8Array<ArrayBuffer>>(answer: JsonColumns, alloc: (size: number) => B = newBytes as (size: number) => B, spans?: ResponseSpans): B {
  const w = writer;
  w.reset();
  writeNames(w, answer);
  const tails = new Tails();
  for (let r = 0; r < answer.count; r++) {
    const column = answer.column(r);
    w.chunk(r === 0 ? FIRST_VALUES : NEXT_VALUES);
    const valuesStart = w.length;
    if (column.numbers) w.numbers(column.numbers, answer.isFloat32(r));
    else writeValues(w, column.values, answer.isFloat32(r));
    const valuesEnd = w.length;
    const tail = tails.write(w, column);
    if (spans) {
      spans[4 * r] = valuesStart;
      spans[4 * r + 1] = valuesEnd;
      spans[4 * r + 2] = tail.statusesStart;
      spans[4 * r + 3] = tail.statusesEnd;
    }
  }
  w.chunk(CLOSE);
  const view = w.view();
  const out = alloc(view.length);
  out.set(view);
  return out;
}

/**
 * The served-value log's record: one NDJSON line per answered request,
 * written by the sidecar (`--log-served`) and read by `larder shadow` (and
 * by DuckDB: `SELECT * FROM read_ndjson('dir/*.ndjson')`).
 *
 *   {"request_ms":1767227400000,"request_id":"m1x2.812.17","project":"shop",
 *    "bundle_version":3,"bundle_as_of_ms":1767225600000,"serve_stale":false,
 *    "entity_index":[0,1],"entities":{"user_id":[1,9]},
 *    "views":[{"view":"user_stats","tiers":["bundle","default"],
 *              "event_ms":[1767225600000,null],"created_ms":[null,null],
 *              "features":["clicks","ctr"],"values":[[10,0],[0.5,null]],
 *              "status_codes":["PM","PM"]}]}
 *
 * request_ms is the time the answer was judged at (statuses and TTLs).
 * entity_index lists the logged entities' positions in the request (all of
 * them unless --log-sample-by key left some out), and every per-entity
 * array has one item per logged entity, in that order: `entities` the
 * request's join key values; per view `tiers` the tier whose row won
 * ("default": none held the key) and `event_ms`, `created_ms` that row's
 * times in epoch ms (null without a row, or without a created time); then
 * the view's `features` (names) and, feature by feature as in Feast's
 * response, the `values` served (a hole already read as its default) and
 * their `status_codes`: values[f][e] is feature f's value for entity e, and
 * letter e of status_codes[f] its status (STATUS_CODES: P PRESENT,
 * N NULL_VALUE, M NOT_FOUND, O OUTSIDE_MAX_AGE). Views
 * appear in the order the request first names them, their features in
 * request order. Field names never change meaning; new fields may be added.
 *
 * The shape keeps the writer cheap: a feature's values are the response's,
 * column by column, so they are copied from its bytes (see ResponseSpans)
 * rather than written again value by value; statuses take a letter, not a
 * quoted word (they were half a line's bytes, and each byte written to a
 * file costs CPU); the request's fields and names are written once per
 * request, not per entity. Logging every answer must cost little next to
 * answering it.
 */
import type { FieldStatus, ValueRule } from '../asof.js';
import type { AnswerColumns } from '../feast/answer.js';
import { withRoom } from '../bytes.js';
import { JsonWriter } from '../feast/json-writer.js';
import type { RequestPlan } from '../feast/request.js';
import type { ResponseSpans } from '../feast/response-json.js';
import type { Selection } from '../feast/selection.js';
import type { ViewResult } from '../resolve/resolver.js';
import type { Row } from '../resolve/tier.js';

/** One line of the log: one answered request. */
export interface ServedLine {
  request_ms: number;
  request_id: string;
  project: string;
  bundle_version: number;
  bundle_as_of_ms: number;
  serve_stale: boolean;
  entity_index: number[];
  entities: Record<string, (string | number)[]>;
  views: ServedLineView[];
}

/** One view of a line: per-entity arrays, and per feature an array over the entities. */
export interface ServedLineView {
  view: string;
  tiers: string[];
  event_ms: (number | null)[];
  created_ms: (number | null)[];
  features: string[];
  /** values[f][e]: feature f's value for entity e. */
  values: unknown[][];
  /** status_codes[f][e]: the STATUS_CODES letter of feature f's status for entity e. */
  status_codes: string[];
}

/** One view of one logged entity, as the reader gives it (servedRecords). */
export interface ServedView {
  view: string;
  tier: string;
  event_ms: number | null;
  created_ms: number | null;
  /** Feature names; values[i] and statuses[i] are features[i]'s. */
  features: string[];
  values: unknown[];
  statuses: FieldStatus[];
}

/** One logged entity of a request, as the reader gives it (servedRecords). */
export interface ServedRecord {
  request_ms: number;
  request_id: string;
  /** The entity's position in the request. */
  entity_index: number;
  project: string;
  bundle_version: number;
  bundle_as_of_ms: number;
  serve_stale: boolean;
  entity: Record<string, string | number>;
  views: ServedView[];
}

/** An answered request as the log needs it: what was planned and resolved, and when and by which bundle. */
export interface ServedAnswer {
  plan: RequestPlan;
  results: ReadonlyMap<string, ViewResult>;
  tierNames: readonly string[];
  nowMs: number;
  rule: ValueRule;
  project: string;
  bundleVersion: number;
  bundleAsOfMs: number;
  /** The request's number; its request_id is the writer's prefix and this number. */
  requestSeq: number;
  /**
   * The AnswerColumns the response was written from: its rows are judged
   * already. Read again (column() refills its arrays) when only some
   * entities are logged, so it must not be in use elsewhere then.
   */
  columns: AnswerColumns;
  /**
   * The response's bytes and where its columns are in them
   * (feastResponseJson's spans), when at hand: with every entity logged,
   * their values and statuses are copied from them instead of written
   * again. Read during write() only.
   */
  responseBytes?: Uint8Array | undefined;
  responseSpans?: ResponseSpans | undefined;
}

/** A status's letter in a line's status_codes. */
export const STATUS_CODES: Readonly<Record<FieldStatus, string>> = { PRESENT: 'P', NULL_VALUE: 'N', NOT_FOUND: 'M', OUTSIDE_MAX_AGE: 'O' };
const STATUS_OF_CODE = new Map(Object.entries(STATUS_CODES).map(([status, code]) => [code, status as FieldStatus]));
const CODE_BYTE = new Map(Object.entries(STATUS_CODES).map(([status, code]) => [status as FieldStatus, code.charCodeAt(0)]));

const encoder = new TextEncoder();
const textOf = (s: string): Uint8Array => encoder.encode(s);
const LINE_START = textOf('{"request_ms":');
const ENTITY_INDEX = textOf(',"entity_index":[');
const KEY_VALUES = textOf(':[');
const ENTITIES = textOf('],"entities":{');
const VIEWS = textOf('},"views":[');
const EVENT = textOf('],"event_ms":[');
const CREATED = textOf('],"created_ms":[');
const CODES_OPEN = textOf(']],"status_codes":["');
const NEXT_LIST = textOf('],[');
const NEXT_CODES = textOf('","');
const VIEW_END = textOf('"]}');
const LINE_END = textOf(']}\n');
const NULL = textOf('null');
const COMMA = textOf(',');

/**
 * A selection's output columns grouped by view, as lines list them: views
 * in order of first use, each view's columns in request order; with the
 * JSON text that opens each view and each feature. Made once per selection.
 */
interface Layout {
  views: {
    name: string;
    /** `{"view":"user_stats","tiers":[` (`,` first but for the first view). */
    open: Uint8Array;
    /** The view's output column indexes. */
    columns: number[];
    /** `],"features":["clicks","ctr"],"values":[[`: the names, and the values opened. */
    names: Uint8Array;
  }[];
}

const layouts = new WeakMap<Selection, Layout>();

function layoutOf(selection: Selection): Layout {
  let layout = layouts.get(selection);
  if (layout) return layout;
  const groups = new Map<string, number[]>();
  selection.outputs.forEach((output, r) => {
    const list = groups.get(output.view.name) ?? [];
    list.push(r);
    groups.set(output.view.name, list);
  });
  const views: Layout['views'] = [...groups].map(([name, columns], v) => ({
    name,
    open: textOf(`${v > 0 ? ',' : ''}{"view":${JSON.stringify(name)},"tiers":[`),
    columns,
    names: textOf(`],"features":[${columns.map((r) => { const o = selection.outputs[r]!; return JSON.stringify(o.view.features[o.featureIndex]!.name); }).join(',')}],"values":[[`),
  }));
  layouts.set(selection, (layout = { views }));
  return layout;
}

/** The JSON strings of a resolver's tier names, by tier index (the names array is the resolver's, made once). */
const tierTextsOf = new WeakMap<readonly string[], Uint8Array[]>();

function tierTexts(names: readonly string[]): Uint8Array[] {
  let texts = tierTextsOf.get(names);
  if (!texts) tierTextsOf.set(names, (texts = names.map((name) => textOf(JSON.stringify(name)))));
  return texts;
}

/** The text `0,1,...,n-1` for the entity_index of a whole request, grown as requests grow. */
let indexText: Uint8Array = new Uint8Array(0);
/** indexEnds[n]: the length of that text for n entities. */
let indexEnds = new Int32Array(1);

function indexTextEnd(n: number): number {
  if (n < indexEnds.length) return indexEnds[n]!;
  const size = Math.max(n + 1, indexEnds.length * 2);
  const ends = new Int32Array(size);
  let text = '';
  for (let i = 0; i < size - 1; i++) {
    text += (i > 0 ? ',' : '') + i;
    ends[i + 1] = text.length;
  }
  indexText = textOf(text);
  indexEnds = ends;
  return ends[n]!;
}

/** Batches kept for reuse: one being filled, a few queued in the sink. */
const SPARE_BATCHES = 4;
/** The first batch buffer's size; buffers grow to what a batch needs. */
const FIRST_BATCH_BYTES = 1 << 16;
/**
 * Lines are written into a small buffer and moved to the batch once it
 * holds this many bytes. The small buffer stays in the CPU's cache, so a
 * line's many small writes land there, and the batch (a megabyte, cold
 * memory) is written by one native copy per move, instead of taking each
 * small write into memory that is not in cache.
 */
const STAGE_BYTES = 32 * 1024;

/**
 * Writes the log lines of answered requests, one after the other, into a
 * batch (through a small buffer, see STAGE_BYTES); `take` hands the batch
 * over. Its buffers come back (give) once written: a fresh array of some
 * hundred KB per batch cost about a millisecond on a VM (page faults).
 */
export class ServedLineWriter {
  /** Where lines are written; whole lines move on to the batch. */
  private readonly out = new JsonWriter();
  /** The batch: whole lines moved out of `out`, batch[0..batchLength). */
  private batch: Uint8Array<ArrayBuffer> = new Uint8Array(FIRST_BATCH_BYTES);
  private batchLength = 0;
  private readonly spare: Uint8Array<ArrayBuffer>[] = [];
  /** `,"request_id":"<prefix>`, closed after each request's number. */
  private readonly idOpen: Uint8Array;
  /** The fields every line of a bundle shares, encoded once per bundle and rule. */
  private common: { project: string; version: number; asOfMs: number; serveStale: boolean; bytes: Uint8Array } | undefined;

  /** `requestIdPrefix` starts every request_id (a sequence number follows). */
  constructor(requestIdPrefix = '') {
    this.idOpen = textOf(`,"request_id":${JSON.stringify(requestIdPrefix).slice(0, -1)}`);
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.batchLength + this.out.length;
  }

  /** Moves the lines in `out` to the end of the batch (one native copy), so `out` is written from its start again. */
  private moveToBatch(): void {
    const lines = this.out.view();
    this.batch = withRoom(this.batch, this.batchLength, lines.length);
    this.batch.set(lines, this.batchLength);
    this.batchLength += lines.length;
    this.out.reset();
  }

  /**
   * Appends the line of `answer`'s entities whose `keep` entry is 1 (all
   * when null); nothing when none is kept. Every kept entity's values and
   * statuses are the response's: read from its bytes when every entity is
   * kept and they are given, else judged again by the same AnswerColumns.
   */
  write(answer: ServedAnswer, keep: Uint8Array | null): void {
    const w = this.out;
    const start = w.length;
    try {
      if (!this.writeLine(answer, keep)) w.truncate(start);
    } catch (e) {
      w.truncate(start); // no half line in the batch
      throw e;
    }
    if (w.length >= STAGE_BYTES) this.moveToBatch();
  }

  /** Writes the line; false when no entity is kept. */
  private writeLine(answer: ServedAnswer, keep: Uint8Array | null): boolean {
    const { plan, results, tierNames } = answer;
    const n = plan.entityCount;
    const bytes = answer.responseBytes;
    const spans = answer.responseSpans;
    // Every entity logged and the response at hand: its text is copied.
    const copied = keep === null && bytes !== undefined && spans !== undefined;
    const w = this.out;
    w.chunk(LINE_START);
    w.integer(answer.nowMs);
    w.chunk(this.idOpen);
    w.integer(answer.requestSeq);
    w.byte(0x22);
    w.chunk(this.commonBytes(answer));
    w.chunk(ENTITY_INDEX);
    if (keep === null) {
      const end = indexTextEnd(n); // before reading indexText: it may grow
      w.copy(indexText, 0, end);
    } else {
      let count = 0;
      for (let i = 0; i < n; i++) {
        if (keep[i] === 0) continue;
        if (count++ > 0) w.byte(0x2c);
        w.integer(i);
      }
      if (count === 0) return false;
    }
    w.chunk(ENTITIES);
    const joinKeys = plan.joinKeys;
    for (let k = 0; k < joinKeys.length; k++) {
      if (k > 0) w.byte(0x2c);
      w.string(joinKeys[k]!.name);
      w.chunk(KEY_VALUES);
      if (copied) w.copy(bytes, spans[4 * k]!, spans[4 * k + 1]!);
      else {
        const values = joinKeys[k]!.values;
        for (let i = 0, c = 0; i < n; i++) {
          if (keep !== null && keep[i] === 0) continue;
          if (c++ > 0) w.byte(0x2c);
          w.value(values[i]);
        }
      }
      w.byte(0x5d);
    }
    w.chunk(VIEWS);
    const first = joinKeys.length;
    const layout = layoutOf(plan.selection);
    for (let v = 0; v < layout.views.length; v++) {
      const view = layout.views[v]!;
      w.chunk(view.open);
      this.writeRows(results.get(view.name)!, tierNames, n, keep);
      w.chunk(view.names);
      if (copied) writeCopied(w, view.columns, first, bytes, spans);
      else writeJudged(w, view.columns, answer, keep);
      w.chunk(VIEW_END);
    }
    w.chunk(LINE_END);
    return true;
  }

  /** A view's row per kept entity: the tier it came from, its event times, its created times. */
  private writeRows(result: ViewResult, tierNames: readonly string[], n: number, keep: Uint8Array | null): void {
    const w = this.out;
    const { rows, servedBy } = result;
    const tiers = tierTexts(tierNames);
    // Every entity from one tier, with one event time, or without created
    // times (the usual case): the item once, then doubled.
    if (keep === null && sameTier(servedBy, n)) writeRepeated(w, tiers[servedBy[0]!]!, n);
    else {
      for (let i = 0, c = 0; i < n; i++) {
        if (keep !== null && keep[i] === 0) continue;
        if (c++ > 0) w.byte(0x2c);
        w.chunk(tiers[servedBy[i]!]!);
      }
    }
    w.chunk(EVENT);
    if (keep === null && sameEventTime(rows, n)) {
      const start = w.length;
      w.integer(rows[0]!.eventTsMs);
      repeatItem(w, start, n, COMMA);
    } else for (let i = 0, c = 0; i < n; i++) {
      if (keep !== null && keep[i] === 0) continue;
      if (c++ > 0) w.byte(0x2c);
      const row = rows[i];
      if (row) w.integer(row.eventTsMs);
      else w.chunk(NULL);
    }
    w.chunk(CREATED);
    if (keep === null && noCreatedTimes(rows, n)) writeRepeated(w, NULL, n);
    else {
      for (let i = 0, c = 0; i < n; i++) {
        if (keep !== null && keep[i] === 0) continue;
        if (c++ > 0) w.byte(0x2c);
        const row = rows[i];
        if (row && row.createdTsMs !== null) w.integer(row.createdTsMs);
        else w.chunk(NULL);
      }
    }
  }

  /** The lines written since the last take; the caller owns them until it gives them back. */
  take(): Uint8Array<ArrayBuffer> {
    this.moveToBatch();
    const full = this.batch.subarray(0, this.batchLength);
    // A new buffer a quarter larger than this batch: the next one, about as long, then does not regrow (a copy).
    this.batch = this.spare.pop() ?? new Uint8Array(Math.max(FIRST_BATCH_BYTES, this.batchLength + (this.batchLength >> 2)));
    this.batchLength = 0;
    return full;
  }

  /** Returns bytes from take() once they are written, for reuse. */
  give(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.spare.length < SPARE_BATCHES) this.spare.push(new Uint8Array(bytes.buffer));
  }

  private commonBytes(a: ServedAnswer): Uint8Array {
    const c = this.common;
    const serveStale = a.rule.serveStale === true;
    if (c && c.project === a.project && c.version === a.bundleVersion && c.asOfMs === a.bundleAsOfMs && c.serveStale === serveStale) return c.bytes;
    const bytes = textOf(`,"project":${JSON.stringify(a.project)},"bundle_version":${a.bundleVersion},"bundle_as_of_ms":${a.bundleAsOfMs},"serve_stale":${serveStale}`);
    this.common = { project: a.project, version: a.bundleVersion, asOfMs: a.bundleAsOfMs, serveStale, bytes };
    return bytes;
  }
}

function sameTier(servedBy: Uint8Array, n: number): boolean {
  for (let i = 1; i < n; i++) if (servedBy[i] !== servedBy[0]) return false;
  return true;
}

/** Every entity has a row, all with one event time (a snapshot's rows often share it). */
function sameEventTime(rows: readonly (Row | undefined)[], n: number): boolean {
  const first = rows[0];
  if (!first) return false;
  for (let i = 1; i < n; i++) if (rows[i]?.eventTsMs !== first.eventTsMs) return false;
  return true;
}

function noCreatedTimes(rows: readonly (Row | undefined)[], n: number): boolean {
  for (let i = 0; i < n; i++) if (rows[i]?.createdTsMs != null) return false;
  return true;
}

/**
 * Repeats the unit written last (from `unitStart` on) until it stands
 * `count` times in all, doubling what is written: a few copies of the
 * line's own bytes, however many units.
 */
function repeatUnit(w: JsonWriter, unitStart: number, count: number): void {
  const unit = w.length - unitStart;
  for (let units = 1; units < count; ) {
    const more = Math.min(units, count - units);
    w.repeat(unitStart, unitStart + more * unit);
    units += more;
  }
}

/** Repeats the item written last (from `itemStart` on) until it stands `count` times in all, `separator` between them. */
function repeatItem(w: JsonWriter, itemStart: number, count: number, separator: Uint8Array): void {
  if (count <= 1) return;
  const itemEnd = w.length;
  w.chunk(separator);
  w.repeat(itemStart, itemEnd);
  repeatUnit(w, itemEnd, count - 1);
}

/** `count` (at least 1) copies of `item`, separated by commas. */
function writeRepeated(w: JsonWriter, item: Uint8Array, count: number): void {
  const start = w.length;
  w.chunk(item);
  repeatItem(w, start, count, COMMA);
}

/**
 * A view's values, column by column, copied from the response, and their
 * statuses read from it as letters (every entity is logged; the values are
 * opened by the view's names).
 */
function writeCopied(w: JsonWriter, columns: readonly number[], first: number, bytes: Uint8Array, spans: ResponseSpans): void {
  for (let c = 0; c < columns.length; c++) {
    const at = 4 * (first + columns[c]!);
    if (c > 0) w.chunk(NEXT_LIST);
    w.copy(bytes, spans[at]!, spans[at + 1]!);
  }
  w.chunk(CODES_OPEN);
  // The features of a view mostly share their statuses (the response then
  // points them at one text): a run of them is the first one's letters,
  // then doubled from the line's own bytes.
  for (let c = 0; c < columns.length; ) {
    const at = 4 * (first + columns[c]!);
    const span = spans[at + 2]!;
    let run = 1;
    while (c + run < columns.length && spans[4 * (first + columns[c + run]!) + 2] === span) run++;
    if (c > 0) w.chunk(NEXT_CODES);
    const start = w.length;
    writeCodesOfText(w, bytes, span, spans[at + 3]!);
    repeatItem(w, start, run, NEXT_CODES);
    c += run;
  }
}

/** A status's letter as a byte, and the length of its word in a response's text with quotes and comma. */
const codeOf = (status: FieldStatus) => ({ code: STATUS_CODES[status].charCodeAt(0), skip: status.length + 3 });
const PRESENT = codeOf('PRESENT');
const NULL_VALUE = codeOf('NULL_VALUE');
const NOT_FOUND = codeOf('NOT_FOUND');
const OUTSIDE_MAX_AGE = codeOf('OUTSIDE_MAX_AGE');
const [P, O, U] = ['P', 'O', 'U'].map((c) => c.charCodeAt(0)) as [number, number, number];

/**
 * The letters of a response's statuses text (`"PRESENT","NOT_FOUND"`: the
 * words exactly, separated by commas, as feastResponseJson writes them),
 * told apart by their first two letters: P(RESENT), NU(LL_VALUE),
 * NO(T_FOUND), O(UTSIDE_MAX_AGE).
 */
function writeCodesOfText(w: JsonWriter, bytes: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; ) {
    const first = bytes[i + 1]!;
    const status = first === P ? PRESENT : first === O ? OUTSIDE_MAX_AGE : bytes[i + 2] === U ? NULL_VALUE : NOT_FOUND;
    w.byte(status.code);
    i += status.skip;
  }
}

/**
 * A view's values and statuses for the kept entities, judged again by the
 * answer's AnswerColumns and written as feastResponseJson writes them: the
 * path of a request only partly logged (the values are opened by the
 * view's names).
 */
function writeJudged(w: JsonWriter, columns: readonly number[], answer: ServedAnswer, keep: Uint8Array | null): void {
  const { plan } = answer;
  const n = plan.entityCount;
  const first = plan.joinKeys.length;
  const statuses: FieldStatus[][] = [];
  for (let c = 0; c < columns.length; c++) {
    const r = columns[c]!;
    const column = answer.columns.column(first + r);
    const float32 = plan.selection.outputs[r]!.float32;
    const { numbers, nulls, values } = column;
    if (c > 0) w.chunk(NEXT_LIST);
    for (let i = 0, k = 0; i < n; i++) {
      if (keep !== null && keep[i] === 0) continue;
      if (k++ > 0) w.byte(0x2c);
      if (nulls[i] === 1) w.chunk(NULL);
      else if (numbers) {
        if (float32) w.float32(numbers[i]!);
        else w.number(numbers[i]!);
      } else w.value(values[i], float32);
    }
    // column() refills its arrays: the statuses are kept for after the values.
    statuses.push(column.statuses.slice(0, n));
  }
  w.chunk(CODES_OPEN);
  for (let c = 0; c < columns.length; c++) {
    if (c > 0) w.chunk(NEXT_CODES);
    const own = statuses[c]!;
    for (let i = 0; i < n; i++) {
      if (keep !== null && keep[i] === 0) continue;
      w.byte(CODE_BYTE.get(own[i]!)!);
    }
  }
}

/** A served-log line that is not a record; the message names the field. */
export class ServedRecordError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses and checks one log line. */
export function parseServedLine(line: string): ServedLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new ServedRecordError(`not JSON: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw new ServedRecordError('not a JSON object');
  const need = (field: string, ok: boolean, what: string) => {
    if (!ok) throw new ServedRecordError(`field "${field}" must be ${what}`);
  };
  need('request_ms', isTime(v.request_ms), 'epoch milliseconds');
  need('request_id', typeof v.request_id === 'string', 'a string');
  need('project', typeof v.project === 'string', 'a string');
  need('bundle_version', Number.isInteger(v.bundle_version), 'an integer');
  need('bundle_as_of_ms', isTime(v.bundle_as_of_ms), 'epoch milliseconds');
  need('serve_stale', typeof v.serve_stale === 'boolean', 'true or false');
  const index = v.entity_index;
  need('entity_index', Array.isArray(index) && index.length > 0 && index.every((i) => Number.isInteger(i) && i >= 0), 'a non-empty array of entity positions');
  const count = (index as number[]).length;
  /** An array of one item per logged entity, each passing `ok`. */
  const perEntity = (field: string, list: unknown, ok: (x: unknown) => boolean, what: string) => {
    need(field, Array.isArray(list) && list.every(ok), what);
    need(field, (list as unknown[]).length === count, `as long as entity_index (${count})`);
  };
  need('entities', isObj(v.entities) && Object.keys(v.entities).length > 0, 'an object of join key -> values');
  for (const [name, values] of Object.entries(v.entities as Record<string, unknown>)) {
    perEntity(`entities.${name}`, values, (x) => typeof x === 'string' || typeof x === 'number', 'an array of join key values');
  }
  need('views', Array.isArray(v.views), 'an array');
  (v.views as unknown[]).forEach((view, i) => {
    const at = `views[${i}]`;
    need(at, isObj(view), 'an object');
    const o = view as Record<string, unknown>;
    need(`${at}.view`, typeof o.view === 'string', 'a string');
    perEntity(`${at}.tiers`, o.tiers, (x) => typeof x === 'string', 'an array of tier names');
    perEntity(`${at}.event_ms`, o.event_ms, (x) => x === null || isTime(x), 'an array of epoch milliseconds or nulls');
    perEntity(`${at}.created_ms`, o.created_ms, (x) => x === null || isTime(x), 'an array of epoch milliseconds or nulls');
    need(`${at}.features`, Array.isArray(o.features) && o.features.every((x) => typeof x === 'string'), 'an array of feature names');
    const width = (o.features as unknown[]).length;
    need(`${at}.values`, Array.isArray(o.values) && o.values.length === width, `an array of one list per feature (${width})`);
    need(`${at}.status_codes`, Array.isArray(o.status_codes) && o.status_codes.length === width, `an array of one string per feature (${width})`);
    (o.values as unknown[]).forEach((list, f) => perEntity(`${at}.values[${f}]`, list, () => true, 'an array'));
    (o.status_codes as unknown[]).forEach((codes, f) => need(`${at}.status_codes[${f}]`, typeof codes === 'string' && codes.length === count && [...codes].every((c) => STATUS_OF_CODE.has(c)),
      `a string of one letter per entity (${count}): ${Object.entries(STATUS_CODES).map(([status, code]) => `${code} ${status}`).join(', ')}`));
  });
  return v as unknown as ServedLine;
}

/** A line's logged entities, one record each, in entity_index order. */
export function servedRecords(line: ServedLine): ServedRecord[] {
  const keys = Object.entries(line.entities);
  return line.entity_index.map((entityIndex, e) => ({
    request_ms: line.request_ms,
    request_id: line.request_id,
    entity_index: entityIndex,
    project: line.project,
    bundle_version: line.bundle_version,
    bundle_as_of_ms: line.bundle_as_of_ms,
    serve_stale: line.serve_stale,
    entity: Object.fromEntries(keys.map(([name, values]) => [name, values[e]!])),
    views: line.views.map((v) => ({
      view: v.view,
      tier: v.tiers[e]!,
      event_ms: v.event_ms[e]!,
      created_ms: v.created_ms[e]!,
      features: v.features,
      values: v.values.map((list) => list[e]),
      statuses: v.status_codes.map((codes) => STATUS_OF_CODE.get(codes[e]!)!),
    })),
  }));
}

/** Parses and checks one log line, and gives its entities' records (see servedRecords). */
export function parseServedRecords(line: string): ServedRecord[] {
  return servedRecords(parseServedLine(line));
}

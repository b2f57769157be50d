/**
 * The served-value log's record: one NDJSON line per entity of an answered
 * request, written by the sidecar (`--log-served`) and read by `larder
 * shadow` (and by DuckDB: `SELECT * FROM read_ndjson('dir/*.ndjson')`).
 *
 *   {"request_ms":1767227400000,"request_id":"m1x2.812.17","project":"shop",
 *    "bundle_version":3,"bundle_as_of_ms":1767225600000,"serve_stale":false,
 *    "entity_index":0,"entity":{"user_id":1},
 *    "views":[{"view":"user_stats","tier":"bundle","event_ms":1767225600000,
 *              "created_ms":null,"features":["clicks","ctr"],"values":[10,0.5],
 *              "statuses":["PRESENT","PRESENT"]}]}
 *
 * request_ms is the time the answer was judged at (statuses and TTLs);
 * entity holds the request's join key values for this entity. Per view the
 * features of one entity come from one row: the tier whose row won
 * ("default": none held the key) and that row's event and created time in
 * epoch ms (null without a row, or without a created time); then, as in
 * Feast's response, the features' names, the values served (a hole already
 * read as its default) and their statuses, position by position. Views
 * appear in the order the request first names them, their features in
 * request order. Field names never change meaning; new fields may be added.
 *
 * The arrays keep the writer cheap: a value costs a comma and its number,
 * the names are one copy per view, and an all-PRESENT statuses array is one
 * copy too. Logging every answer must cost little next to answering it.
 */
import type { FieldStatus, ValueRule } from '../asof.js';
import { type AnswerColumn, AnswerColumns } from '../feast/answer.js';
import { withRoom } from '../bytes.js';
import { JsonWriter } from '../feast/json-writer.js';
import type { RequestPlan } from '../feast/request.js';
import type { Selection } from '../feast/selection.js';
import type { ViewResult } from '../resolve/resolver.js';

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

export interface ServedRecord {
  request_ms: number;
  request_id: string;
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
  requestId: string;
  /**
   * The AnswerColumns the response was written from, when at hand: its rows
   * are judged already. It is read again (column() refills its arrays), so
   * it must not be in use elsewhere.
   */
  columns?: AnswerColumns;
}

const STATUSES: readonly FieldStatus[] = ['PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'];

const encoder = new TextEncoder();
const textOf = (s: string): Uint8Array => encoder.encode(s);
const STATUS_TEXT = new Map(STATUSES.map((s) => [s, textOf(`"${s}"`)]));
const EVENT = textOf(',"event_ms":');
const CREATED = textOf(',"created_ms":');
const VALUES = textOf('],"values":[');
const STATUSES_OPEN = textOf('],"statuses":[');
const VIEWS = textOf(',"views":[');
const VIEW_END = textOf(']}');
const LINE_END = textOf(']}\n');

/**
 * A selection's output columns grouped by view, as lines list them: views
 * in order of first use, each view's columns in request order; with the
 * JSON text that opens each view and each feature. Made once per selection.
 */
interface Layout {
  views: {
    name: string;
    /** `{"view":"user_stats","tier":` */
    open: Uint8Array;
    /** The view's output column indexes. */
    columns: number[];
    /** `,"features":["clicks","ctr"` (closed by VALUES). */
    names: Uint8Array;
    /** `],"statuses":["PRESENT","PRESENT"]}`: the view's end when every status is PRESENT. */
    allPresent: Uint8Array;
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
  const views: Layout['views'] = [...groups].map(([name, columns]) => {
    const names = columns.map((r) => { const o = selection.outputs[r]!; return JSON.stringify(o.view.features[o.featureIndex]!.name); });
    return {
      name,
      open: textOf(`{"view":${JSON.stringify(name)},"tier":`),
      columns,
      names: textOf(`,"features":[${names.join(',')}`),
      allPresent: textOf(`],"statuses":[${columns.map(() => '"PRESENT"').join(',')}]}`),
    };
  });
  layouts.set(selection, (layout = { views }));
  return layout;
}

/**
 * Writes the log lines of answered requests into one buffer. A request's
 * lines are built column by column, as AnswerColumns yields an answer (one
 * writer per entity), and appended to the buffer by `write`; `take` hands
 * the buffer's bytes over.
 */
/**
 * The lines waiting to be handed over, in buffers that come back once
 * written: allocating a fresh 256 KB array per batch cost about a
 * millisecond on a VM (page faults), as much as formatting the batch.
 */
class Batch {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private readonly spare: Uint8Array<ArrayBuffer>[] = [];

  append(bytes: Uint8Array): void {
    this.buf = withRoom(this.buf, this.length, bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  take(): Uint8Array<ArrayBuffer> {
    const full = this.buf.subarray(0, this.length);
    this.buf = this.spare.pop() ?? new Uint8Array(this.buf.length);
    this.length = 0;
    return full;
  }

  give(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.spare.length < SPARE_BATCHES) this.spare.push(new Uint8Array(bytes.buffer));
  }
}

/** Buffers kept for reuse: one being filled, a few queued in the sink. */
const SPARE_BATCHES = 4;

export class ServedLineWriter {
  private readonly writers: JsonWriter[] = [];
  /** Per entity, the statuses of the view being written, when one is not PRESENT (else undefined). */
  private statuses: (FieldStatus[] | undefined)[] = [];
  private readonly out = new Batch();
  private readonly head = new JsonWriter();
  /** The fields every line of a bundle shares, encoded once per bundle and rule. */
  private common: { project: string; version: number; asOfMs: number; serveStale: boolean; bytes: Uint8Array } | undefined;

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.out.length;
  }

  /**
   * Appends the lines of `answer`'s entities whose `keep` entry is 1 (all
   * when null), judging the answer with AnswerColumns (the value rule the
   * response used), and calls `onColumn` with each feature column (index
   * into the selection's outputs) as it is read, for other consumers (drift).
   */
  write(answer: ServedAnswer, keep: Uint8Array | null, onColumn?: (r: number, column: AnswerColumn) => void): void {
    const { plan, results, tierNames } = answer;
    const n = plan.entityCount;
    while (this.writers.length < n) this.writers.push(new JsonWriter());
    const writers = this.writers;
    // The fields every line of the request shares, written once and copied to each line.
    const head = this.head;
    head.reset();
    head.raw('{"request_ms":');
    head.number(answer.nowMs);
    head.raw(',"request_id":');
    head.string(answer.requestId);
    head.chunk(this.commonBytes(answer));
    head.raw(',"entity_index":');
    const shared = head.view();
    for (let i = 0; i < n; i++) {
      if (keep && keep[i] === 0) continue;
      const w = writers[i]!;
      w.reset();
      w.chunk(shared);
      w.number(i);
      w.raw(',"entity":{');
      for (let k = 0; k < plan.joinKeys.length; k++) {
        const jk = plan.joinKeys[k]!;
        if (k > 0) w.byte(0x2c);
        w.string(jk.name);
        w.byte(0x3a);
        w.value(jk.values[i]);
      }
      w.byte(0x7d);
      w.chunk(VIEWS);
    }
    const columns = answer.columns ?? new AnswerColumns(plan, results, answer.nowMs, answer.rule);
    const first = columns.joinKeyNames.length;
    const outputs = plan.selection.outputs;
    const layout = layoutOf(plan.selection);
    const statuses = this.statuses;
    layout.views.forEach((view, vi) => {
      const result = results.get(view.name)!;
      // The view's row, once per entity: tier and times; then the names.
      for (let i = 0; i < n; i++) {
        if (keep && keep[i] === 0) continue;
        const w = writers[i]!;
        if (vi > 0) w.byte(0x2c);
        w.chunk(view.open);
        w.string(tierNames[result.servedBy[i]!]!);
        const row = result.rows[i];
        w.chunk(EVENT);
        if (row) w.number(row.eventTsMs);
        else w.raw('null');
        w.chunk(CREATED);
        if (row && row.createdTsMs !== null) w.number(row.createdTsMs);
        else w.raw('null');
        w.chunk(view.names);
        w.chunk(VALUES);
        statuses[i] = undefined;
      }
      const width = view.columns.length;
      for (let c = 0; c < width; c++) {
        const r = view.columns[c]!;
        const column = columns.column(first + r);
        onColumn?.(r, column);
        const float32 = outputs[r]!.float32;
        const { numbers, nulls, values } = column;
        for (let i = 0; i < n; i++) {
          if (keep && keep[i] === 0) continue;
          const w = writers[i]!;
          if (c > 0) w.byte(0x2c);
          if (nulls[i] === 1) w.raw('null');
          else if (numbers) {
            if (float32) w.float32(numbers[i]!);
            else w.number(numbers[i]!);
          } else w.value(values[i], float32);
          // Statuses are written after the values: kept only for an entity with a hole.
          const status = column.statuses[i]!;
          if (status !== 'PRESENT' || statuses[i]) (statuses[i] ??= new Array<FieldStatus>(width).fill('PRESENT', 0, c))[c] = status;
        }
      }
      for (let i = 0; i < n; i++) {
        if (keep && keep[i] === 0) continue;
        const w = writers[i]!;
        const own = statuses[i];
        if (!own) {
          w.chunk(view.allPresent);
          continue;
        }
        w.chunk(STATUSES_OPEN);
        for (let c = 0; c < width; c++) {
          if (c > 0) w.byte(0x2c);
          w.chunk(STATUS_TEXT.get(own[c]!)!);
        }
        w.chunk(VIEW_END);
      }
    });
    const out = this.out;
    for (let i = 0; i < n; i++) {
      if (keep && keep[i] === 0) continue;
      const w = writers[i]!;
      w.chunk(LINE_END);
      out.append(w.view());
    }
  }

  /** The lines written since the last take; the caller owns them until it gives them back. */
  take(): Uint8Array<ArrayBuffer> {
    return this.out.take();
  }

  /** Returns bytes from take() once they are written, for reuse. */
  give(bytes: Uint8Array<ArrayBuffer>): void {
    this.out.give(bytes);
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

/** Every kept entity of an answer as log lines (a convenience over ServedLineWriter). */
export function servedLines(answer: ServedAnswer, keep: Uint8Array | null = null): Uint8Array {
  const writer = new ServedLineWriter();
  writer.write(answer, keep);
  return writer.take().slice();
}

/** A served-log line that is not a record; the message names the field. */
export class ServedRecordError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses and checks one log line. */
export function parseServedRecord(line: string): ServedRecord {
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
  need('entity_index', Number.isInteger(v.entity_index), 'an integer');
  need('project', typeof v.project === 'string', 'a string');
  need('bundle_version', Number.isInteger(v.bundle_version), 'an integer');
  need('bundle_as_of_ms', isTime(v.bundle_as_of_ms), 'epoch milliseconds');
  need('serve_stale', typeof v.serve_stale === 'boolean', 'true or false');
  need('entity', isObj(v.entity) && Object.values(v.entity).every((x) => typeof x === 'string' || typeof x === 'number'), 'an object of join key values');
  need('views', Array.isArray(v.views), 'an array');
  (v.views as unknown[]).forEach((view, i) => {
    const at = `views[${i}]`;
    need(at, isObj(view), 'an object');
    const o = view as Record<string, unknown>;
    need(`${at}.view`, typeof o.view === 'string', 'a string');
    need(`${at}.tier`, typeof o.tier === 'string', 'a string');
    need(`${at}.event_ms`, o.event_ms === null || isTime(o.event_ms), 'epoch milliseconds or null');
    need(`${at}.created_ms`, o.created_ms === null || isTime(o.created_ms), 'epoch milliseconds or null');
    const list = (field: string, ok: (x: unknown) => boolean, what: string) => {
      need(`${at}.${field}`, Array.isArray(o[field]) && (o[field] as unknown[]).every(ok), what);
    };
    list('features', (x) => typeof x === 'string', 'an array of feature names');
    list('values', () => true, 'an array');
    list('statuses', (x) => STATUSES.includes(x as FieldStatus), `an array of ${STATUSES.join(', ')}`);
    const count = (o.features as unknown[]).length;
    need(`${at}.values`, (o.values as unknown[]).length === count, `as long as features (${count})`);
    need(`${at}.statuses`, (o.statuses as unknown[]).length === count, `as long as features (${count})`);
  });
  return v as unknown as ServedRecord;
}

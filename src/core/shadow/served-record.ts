/**
 * The served-value log's record: one NDJSON line per entity of an answered
 * request, written by the sidecar (`--log-served`) and read by `larder
 * shadow` (and by DuckDB: `SELECT * FROM read_ndjson('dir/*.ndjson')`).
 *
 *   {"request_ms":1767227400000,"request_id":"m1x2.812.17","entity_index":0,
 *    "project":"shop","bundle_version":3,"bundle_as_of_ms":1767225600000,
 *    "serve_stale":false,"entity":{"user_id":1},
 *    "features":[{"feature":"user_stats:clicks","value":10,"status":"PRESENT",
 *                 "tier":"bundle","event_ms":1767225600000,"created_ms":null}]}
 *
 * request_ms is the time the answer was judged at (statuses and TTLs);
 * entity holds the request's join key values for this entity; each feature
 * carries the value served (a hole already read as its default), its Feast
 * status, the tier whose row won ("default": none held the key), and that
 * row's event and created time in epoch ms (null without a row, or without a
 * created time). Field names never change meaning; new fields may be added.
 */
import type { FieldStatus, ValueRule } from '../asof.js';
import { type AnswerColumn, AnswerColumns } from '../feast/answer.js';
import { JsonWriter } from '../feast/json-writer.js';
import type { RequestPlan } from '../feast/request.js';
import type { OutputColumn } from '../feast/selection.js';
import type { ViewResult } from '../resolve/resolver.js';

export interface ServedFeature {
  /** "view:feature". */
  feature: string;
  value: unknown;
  status: FieldStatus;
  tier: string;
  event_ms: number | null;
  created_ms: number | null;
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
  features: ServedFeature[];
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
}

const STATUSES: readonly FieldStatus[] = ['PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'];
const NL = 0x0a;

const encoder = new TextEncoder();
const textOf = (s: string): Uint8Array => encoder.encode(s);
const STATUS_TEXT = new Map(STATUSES.map((s) => [s, textOf(`,"status":"${s}","tier":`)]));
const EVENT = textOf(',"event_ms":');
const CREATED = textOf(',"created_ms":');
const FEATURES = textOf(',"features":[');
const END = textOf(']}');

/** `{"feature":"view:name","value":` per output column, made once per selection's column. */
const featureHead = new WeakMap<OutputColumn, Uint8Array>();

function headOf(output: OutputColumn): Uint8Array {
  let head = featureHead.get(output);
  if (!head) {
    const ref = `${output.view.name}:${output.view.features[output.featureIndex]!.name}`;
    featureHead.set(output, (head = textOf(`{"feature":${JSON.stringify(ref)},"value":`)));
  }
  return head;
}

/**
 * Writes the log lines of answered requests. A line is built column by
 * column, as AnswerColumns yields an answer, into one writer per entity;
 * `end` joins the kept entities' lines. Use: begin, column for every
 * feature column of the answer in order, end.
 */
export class ServedLineWriter {
  private readonly writers: JsonWriter[] = [];
  private readonly out = new JsonWriter();
  private answer: ServedAnswer | undefined;
  private keep: Uint8Array | null = null;
  private first = true;
  /** The fields every line of a bundle shares, encoded once per bundle and rule. */
  private common: { answer: Pick<ServedAnswer, 'project' | 'bundleVersion' | 'bundleAsOfMs'>; serveStale: boolean; bytes: Uint8Array } | undefined;

  /**
   * Starts the lines of `answer`'s entities whose `keep` entry is 1 (all
   * when null), and returns the AnswerColumns to read its columns from.
   */
  begin(answer: ServedAnswer, keep: Uint8Array | null): AnswerColumns {
    this.answer = answer;
    this.keep = keep;
    this.first = true;
    const { plan } = answer;
    const n = plan.entityCount;
    while (this.writers.length < n) this.writers.push(new JsonWriter());
    const common = this.commonBytes(answer);
    for (let i = 0; i < n; i++) {
      if (keep && keep[i] === 0) continue;
      const w = this.writers[i]!;
      w.reset();
      w.raw('{"request_ms":');
      w.number(answer.nowMs);
      w.raw(',"request_id":');
      w.string(answer.requestId);
      w.raw(`,"entity_index":${i}`);
      w.chunk(common);
      w.raw(',"entity":{');
      plan.joinKeys.forEach((jk, k) => {
        if (k > 0) w.byte(0x2c);
        w.string(jk.name);
        w.byte(0x3a);
        w.value(jk.values[i]);
      });
      w.byte(0x7d);
      w.chunk(FEATURES);
    }
    return new AnswerColumns(plan, answer.results, answer.nowMs, answer.rule);
  }

  private commonBytes(a: ServedAnswer): Uint8Array {
    const c = this.common;
    if (c && c.answer.project === a.project && c.answer.bundleVersion === a.bundleVersion && c.answer.bundleAsOfMs === a.bundleAsOfMs && c.serveStale === (a.rule.serveStale === true)) return c.bytes;
    const bytes = textOf(`,"project":${JSON.stringify(a.project)},"bundle_version":${a.bundleVersion},"bundle_as_of_ms":${a.bundleAsOfMs},"serve_stale":${a.rule.serveStale === true}`);
    this.common = { answer: { project: a.project, bundleVersion: a.bundleVersion, bundleAsOfMs: a.bundleAsOfMs }, serveStale: a.rule.serveStale === true, bytes };
    return bytes;
  }

  /** Adds feature column `r` (counted from the first feature column), as AnswerColumns gave it. */
  column(r: number, column: AnswerColumn): void {
    const answer = this.answer!;
    const output = answer.plan.selection.outputs[r]!;
    const result = answer.results.get(output.view.name)!;
    const head = headOf(output);
    const float32 = output.float32;
    const keep = this.keep;
    const { numbers, nulls, values, statuses } = column;
    for (let i = 0; i < answer.plan.entityCount; i++) {
      if (keep && keep[i] === 0) continue;
      const w = this.writers[i]!;
      if (!this.first) w.byte(0x2c);
      w.chunk(head);
      if (nulls[i] === 1) w.raw('null');
      else if (numbers) {
        if (float32) w.float32(numbers[i]!);
        else w.number(numbers[i]!);
      } else w.value(values[i], float32);
      w.chunk(STATUS_TEXT.get(statuses[i]!)!);
      w.string(answer.tierNames[result.servedBy[i]!]!);
      const row = result.rows[i];
      w.chunk(EVENT);
      if (row) w.number(row.eventTsMs);
      else w.raw('null');
      w.chunk(CREATED);
      if (row && row.createdTsMs !== null) w.number(row.createdTsMs);
      else w.raw('null');
      w.byte(0x7d);
    }
    this.first = false;
  }

  /** The kept entities' lines, each ending in a newline: a view valid until the next begin. */
  end(): Uint8Array {
    const answer = this.answer!;
    const out = this.out;
    out.reset();
    for (let i = 0; i < answer.plan.entityCount; i++) {
      if (this.keep && this.keep[i] === 0) continue;
      const w = this.writers[i]!;
      w.chunk(END);
      w.byte(NL);
      out.chunk(w.view());
    }
    this.answer = undefined;
    return out.view();
  }
}

/** Writes every entity of an answer as log lines (a convenience over ServedLineWriter). */
export function servedLines(answer: ServedAnswer, keep: Uint8Array | null = null): Uint8Array {
  const writer = new ServedLineWriter();
  const columns = writer.begin(answer, keep);
  const joinKeys = columns.joinKeyNames.length;
  for (let r = joinKeys; r < columns.count; r++) writer.column(r - joinKeys, columns.column(r));
  return writer.end().slice();
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
  need('features', Array.isArray(v.features), 'an array');
  (v.features as unknown[]).forEach((f, i) => {
    const at = `features[${i}]`;
    need(at, isObj(f), 'an object');
    const o = f as Record<string, unknown>;
    need(`${at}.feature`, typeof o.feature === 'string' && /^[^:]+:[^:]+$/.test(o.feature), 'a "view:feature" string');
    need(`${at}.status`, STATUSES.includes(o.status as FieldStatus), `one of ${STATUSES.join(', ')}`);
    need(`${at}.tier`, typeof o.tier === 'string', 'a string');
    need(`${at}.event_ms`, o.event_ms === null || isTime(o.event_ms), 'epoch milliseconds or null');
    need(`${at}.created_ms`, o.created_ms === null || isTime(o.created_ms), 'epoch milliseconds or null');
    if (!('value' in o)) throw new ServedRecordError(`field "${at}.value" is missing`);
  });
  return v as unknown as ServedRecord;
}

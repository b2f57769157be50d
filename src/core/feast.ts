/**
 * Feast's /get-online-features request and response shapes. Parsing turns a
 * request into a plan (which views, which keys, which output columns) or a
 * 4xx LarderError that names the problem; building turns resolved rows into
 * Feast's column-oriented response.
 */
import { type FieldStatus, rowStatusAt, valueStatus } from './asof.js';
import { BundleRow } from './bundle/bundle-row.js';
import type { BundleView } from './bundle/bundle.js';
import { LarderError } from './errors.js';
import { describeType } from './dtypes.js';
import { entityKeyString, isJoinKeyValue } from './keys.js';
import type { ServingCatalog } from './resolve/catalog.js';
import type { ViewResult } from './resolve/resolver.js';
import type { Selection } from './resolve/selection.js';
import type { Row, ViewSpec } from './resolve/tier.js';
import { formatTimestamp } from './time.js';

export interface OnlineFeaturesRequest {
  features?: string[];
  feature_service?: string;
  entities: Record<string, unknown[]>;
  full_feature_names?: boolean;
}

export interface FeatureVector {
  values: unknown[];
  statuses: FieldStatus[];
  event_timestamps: string[];
}

export interface OnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: FeatureVector[];
}

export interface RequestPlan {
  entityCount: number;
  /** Join keys as the request gave them, in request order. */
  joinKeys: { name: string; values: unknown[] }[];
  /** Each distinct view with its canonical entity keys, one per entity. */
  views: { view: ViewSpec; keys: string[] }[];
  /** The output columns after the join keys. */
  selection: Selection;
}

const bad = (msg: string) => new LarderError('LARDER_ERR_BAD_REQUEST', msg);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const KNOWN_FIELDS = new Set(['features', 'feature_service', 'entities', 'full_feature_names']);

export function planRequest(catalog: ServingCatalog, body: unknown, maxEntities = Infinity): RequestPlan {
  if (!isObj(body)) throw bad(`request body must be a JSON object, got ${describeType(body)}`);
  for (const k of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(k)) throw bad(`unknown request field "${k}" (expected: features or feature_service, entities, full_feature_names)`);
  }
  const fullNames = body.full_feature_names ?? false;
  if (typeof fullNames !== 'boolean') throw bad(`"full_feature_names" must be a boolean, got ${describeType(fullNames)}`);

  const selection = catalog.selections.select(featureRefs(catalog, body), fullNames);

  const entities = body.entities;
  if (!isObj(entities)) throw bad(`"entities" must be an object of join key -> array of values, got ${describeType(entities)}`);
  const joinKeys: RequestPlan['joinKeys'] = [];
  let entityCount = -1;
  for (const [name, values] of Object.entries(entities)) {
    if (!Array.isArray(values)) throw bad(`entities."${name}" must be an array of values, got ${describeType(values)}`);
    if (entityCount === -1) entityCount = values.length;
    else if (values.length !== entityCount) {
      throw new LarderError('LARDER_ERR_ENTITY_LENGTHS', `entity columns have different lengths: "${joinKeys[0]!.name}" has ${entityCount} values, "${name}" has ${values.length}`);
    }
    joinKeys.push({ name, values });
  }
  if (joinKeys.length === 0) throw new LarderError('LARDER_ERR_MISSING_JOIN_KEY', '"entities" is empty: give at least one join key with its values');
  if (entityCount > maxEntities) {
    throw new LarderError('LARDER_ERR_TOO_MANY_ENTITIES', `request has ${entityCount} entities, more than the limit of ${maxEntities}`);
  }

  const given = new Map(joinKeys.map((j) => [j.name, j.values]));
  const needed = new Set<string>();
  const views: RequestPlan['views'] = [];
  for (const view of selection.views) {
    const columns = view.joinKeys.map((jk) => {
      needed.add(jk.name);
      const values = given.get(jk.name);
      if (!values) throw new LarderError('LARDER_ERR_MISSING_JOIN_KEY', `feature view "${view.name}" needs join key "${jk.name}", which "entities" does not have`);
      for (let i = 0; i < values.length; i++) {
        if (!isJoinKeyValue(jk.dtype, values[i])) {
          throw new LarderError('LARDER_ERR_JOIN_KEY_TYPE', `join key "${jk.name}" is ${jk.dtype}, but value ${i} is ${previewValue(values[i])} (${describeType(values[i])})`);
        }
      }
      return values as (string | number)[];
    });
    const keys = new Array<string>(entityCount);
    const parts = new Array<string | number>(columns.length);
    for (let i = 0; i < entityCount; i++) {
      for (let c = 0; c < columns.length; c++) parts[c] = columns[c]![i]!;
      keys[i] = entityKeyString(parts);
    }
    views.push({ view, keys });
  }
  for (const j of joinKeys) {
    if (!needed.has(j.name)) {
      throw new LarderError('LARDER_ERR_EXTRA_JOIN_KEY', `join key "${j.name}" is not used by any requested feature view (they use: ${[...needed].join(', ')})`);
    }
  }
  return { entityCount, joinKeys, views, selection };
}

/**
 * A short rendering of a request value for an error message. Never throws:
 * JSON.stringify overflows the stack on deeply nested input, and a request
 * must not be able to turn its own error message into a 500.
 */
function previewValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v);
  if (Array.isArray(v)) return `[...${v.length} items]`;
  if (typeof v === 'object' && v !== null) return '{...}';
  return String(v);
}

/** The request's feature references: its service's, or its own list (checked by the selection). */
function featureRefs(catalog: ServingCatalog, body: Record<string, unknown>): unknown {
  const { features, feature_service: service } = body;
  if (features !== undefined && service !== undefined) throw bad('give either "features" or "feature_service", not both');
  if (service !== undefined) {
    if (typeof service !== 'string') throw bad(`"feature_service" must be a string, got ${describeType(service)}`);
    const refs = catalog.services.get(service);
    if (!refs) throw new LarderError('LARDER_ERR_UNKNOWN_SERVICE', `feature service "${service}" does not exist (known: ${[...catalog.services.keys()].join(', ') || 'none'})`);
    return refs;
  }
  return features;
}

/** Feature values by status, as counted while judging an answer. */
export type StatusCounts = Record<FieldStatus, number>;

/** One column of an answer, as AnswerColumns fills it. */
export interface AnswerColumn {
  /** The values, for columns other than numbers. */
  values: unknown[];
  /**
   * For a column of numbers (int64, float32, float64 features): its values
   * as doubles, a null as NaN and marked 1 in `nulls`; `values` is then not
   * filled. Undefined for other columns.
   */
  numbers: Float64Array | undefined;
  /** 1 where the value is null. */
  nulls: Uint8Array;
  statuses: FieldStatus[];
  /**
   * Event times, epoch ms: the row's, or 0 (the epoch) for join keys and
   * NOT_FOUND. Every column of a view shares one array; Feast's text for
   * each is formatTimestamp's.
   */
  eventTsMs: Float64Array;
  /**
   * Set when the statuses are exactly what the rows' times give (no fresh
   * null among them): columns of one answer with the same key have the same
   * statuses and event times, so a writer can repeat their text without
   * comparing them. Undefined otherwise.
   */
  tailKey: object | undefined;
}

/** What a request's rows of one view say before any feature is read: judged once per view. */
interface ViewRows {
  rows: readonly (Row | undefined)[];
  /** Per entity: the status its row's time gives (NOT_FOUND also for no row at all). */
  rowStatus: ('NOT_FOUND' | 'OUTSIDE_MAX_AGE' | 'PRESENT')[];
  /** Per entity: its row's event time, or 0 (the epoch) for NOT_FOUND. */
  eventTsMs: Float64Array;
  /** The bundle the view's bundle rows are read from, and each entity's record in it (-1: not a bundle row, or NOT_FOUND). */
  bundle: BundleView | undefined;
  records: Int32Array;
}

/**
 * A resolved request's answer, column by column (join keys first), judged at
 * `nowMs`: the one place the response's values, statuses and event
 * timestamps are decided. column(r) fills and returns the same arrays each
 * time, so a serializer can write the answer without building it; the
 * in-process API copies them into Feast's response object. Rows the bundle
 * holds are read feature by feature straight from its records, numbers
 * into a Float64Array, so a wide answer creates no object per value.
 */
export class AnswerColumns {
  /** Output names: the join keys', then the features' (one array per feature list: see Selection). */
  readonly joinKeyNames: string[];
  readonly featureNames: readonly string[];
  readonly count: number;
  /** Statuses of the feature columns judged so far. */
  readonly counts: StatusCounts = { PRESENT: 0, NULL_VALUE: 0, NOT_FOUND: 0, OUTSIDE_MAX_AGE: 0 };
  private readonly n: number;
  private readonly cells: AnswerColumn;
  private readonly numbers: Float64Array;
  /** The join keys' event times: all the epoch. */
  private readonly epochs: Float64Array;
  private readonly byView = new Map<string, ViewRows>();

  constructor(
    private readonly plan: RequestPlan,
    private readonly results: ReadonlyMap<string, ViewResult>,
    private readonly nowMs: number,
  ) {
    const n = (this.n = plan.entityCount);
    this.joinKeyNames = plan.joinKeys.map((jk) => jk.name);
    this.featureNames = plan.selection.names;
    this.count = this.joinKeyNames.length + this.featureNames.length;
    this.numbers = new Float64Array(n);
    this.epochs = new Float64Array(n);
    this.cells = { values: new Array<unknown>(n), numbers: undefined, nulls: new Uint8Array(n), statuses: new Array<FieldStatus>(n), eventTsMs: this.epochs, tailKey: undefined };
  }

  /** Whether column r holds float32 values (scalars or lists), which JSON writes at float32 precision. */
  isFloat32(r: number): boolean {
    const joinKeys = this.joinKeyNames.length;
    return r >= joinKeys && this.plan.selection.outputs[r - joinKeys]!.float32;
  }

  column(r: number): AnswerColumn {
    const n = this.n;
    const cells = this.cells;
    const { values, statuses } = cells;
    const joinKeys = this.plan.joinKeys;
    if (r < joinKeys.length) {
      // Join keys echo the request, PRESENT, at the epoch.
      const given = joinKeys[r]!.values;
      for (let i = 0; i < n; i++) {
        values[i] = given[i];
        statuses[i] = 'PRESENT';
      }
      cells.numbers = undefined;
      cells.eventTsMs = this.epochs;
      cells.tailKey = this.epochs;
      return cells;
    }
    const output = this.plan.selection.outputs[r - joinKeys.length]!;
    const { view, featureIndex } = output;
    const rows = this.viewRows(view);
    const fallback = view.features[featureIndex]!.default ?? null;
    if (output.number) this.fillNumbers(rows, featureIndex, fallback as number | null);
    else this.fillValues(rows, featureIndex, fallback);
    const { rowStatus } = rows;
    const nulls = cells.nulls;
    const counts = this.counts;
    let asRows = true;
    for (let i = 0; i < n; i++) {
      const status = valueStatus(rowStatus[i]!, nulls[i] === 1);
      statuses[i] = status;
      if (status === 'NULL_VALUE') asRows = false;
      // Literal keys: a keyed increment per value cost more than the rest of the loop.
      if (status === 'PRESENT') counts.PRESENT++;
      else if (status === 'NULL_VALUE') counts.NULL_VALUE++;
      else if (status === 'NOT_FOUND') counts.NOT_FOUND++;
      else counts.OUTSIDE_MAX_AGE++;
    }
    cells.eventTsMs = rows.eventTsMs;
    cells.tailKey = asRows ? rows : undefined;
    return cells;
  }

  /** A number column into `numbers` and `nulls`: bundle rows in one read, others from their values, NOT_FOUND as the default. */
  private fillNumbers(rows: ViewRows, featureIndex: number, fallback: number | null): void {
    const numbers = this.numbers;
    const nulls = this.cells.nulls;
    rows.bundle?.readNumbers(featureIndex, rows.records, numbers, nulls);
    for (let i = 0; i < this.n; i++) {
      if (rows.records[i]! >= 0) continue;
      // A value that is not a number (none is, from a tier that keeps to its dtypes) is answered as null.
      const v = rows.rowStatus[i] === 'NOT_FOUND' ? fallback : rows.rows[i]!.values[featureIndex];
      if (typeof v === 'number') {
        numbers[i] = v;
        nulls[i] = 0;
      } else {
        numbers[i] = NaN;
        nulls[i] = 1;
      }
    }
    this.cells.numbers = numbers;
  }

  /** Any other column into `values` and `nulls`. */
  private fillValues(rows: ViewRows, featureIndex: number, fallback: unknown): void {
    const { values, nulls } = this.cells;
    rows.bundle?.readValues(featureIndex, rows.records, values);
    for (let i = 0; i < this.n; i++) {
      if (rows.records[i]! < 0) values[i] = rows.rowStatus[i] === 'NOT_FOUND' ? fallback : (rows.rows[i]!.values[featureIndex] ?? null);
      nulls[i] = values[i] === null ? 1 : 0;
    }
    this.cells.numbers = undefined;
  }

  private viewRows(view: ViewSpec): ViewRows {
    let v = this.byView.get(view.name);
    if (v) return v;
    const n = this.n;
    const rows = this.results.get(view.name)!.rows;
    v = { rows, rowStatus: new Array(n), eventTsMs: new Float64Array(n), bundle: undefined, records: new Int32Array(n).fill(-1) };
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      const status = row ? rowStatusAt(row.eventTsMs, this.nowMs, view.ttlSeconds) : 'NOT_FOUND';
      v.rowStatus[i] = status;
      if (status === 'NOT_FOUND') continue;
      v.eventTsMs[i] = row!.eventTsMs;
      if (row instanceof BundleRow && (v.bundle ??= row.view) === row.view) v.records[i] = row.record;
    }
    this.byView.set(view.name, v);
    return v;
  }
}

/** Builds Feast's response from resolved rows, judging statuses at `nowMs`. */
export function buildResponse(plan: RequestPlan, results: ReadonlyMap<string, ViewResult>, nowMs: number): OnlineFeaturesResponse {
  const answer = new AnswerColumns(plan, results, nowMs);
  const vectors: FeatureVector[] = [];
  // Columns of one view share their event times: formatted once per view.
  const stampTexts = new Map<Float64Array, string[]>();
  for (let r = 0; r < answer.count; r++) {
    const { values, numbers, nulls, statuses, eventTsMs } = answer.column(r);
    const n = statuses.length;
    const out = numbers ? Array.from({ length: n }, (_, i) => (nulls[i] === 1 ? null : numbers[i])) : values.slice(0, n);
    let stamps = stampTexts.get(eventTsMs);
    if (!stamps) stampTexts.set(eventTsMs, (stamps = Array.from(eventTsMs, formatTimestamp)));
    vectors.push({ values: out, statuses: statuses.slice(), event_timestamps: stamps.slice() });
  }
  return { metadata: { feature_names: [...answer.joinKeyNames, ...answer.featureNames] }, results: vectors };
}

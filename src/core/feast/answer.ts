/**
 * Feast's answer to a planned, resolved request, column by column: the one
 * place where the value rule turns rows into values, statuses and event
 * timestamps. A hole (no row, a null, a stale row) reads as the feature's
 * default (null without one), as training sets read it.
 */
import { type FieldStatus, type RowStatus, type ValueRule, readsAsDefault, rowStatusAt, valueStatus } from '../asof.js';
import type { ViewResult } from '../resolve/resolver.js';
import type { ColumnReader, Row, ViewSpec } from '../resolve/tier.js';
import { formatTimestamp } from '../time.js';
import type { FeatureVector, OnlineFeaturesResponse, RequestPlan } from './request.js';

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
  rowStatus: RowStatus[];
  /** Per entity: its row's event time, or 0 (the epoch) for NOT_FOUND. */
  eventTsMs: Float64Array;
  /** The column store the view's rows are read from (the bundle), and each entity's record in it (-1: not one of its rows, or NOT_FOUND). */
  columns: ColumnReader | undefined;
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
    private readonly rule: ValueRule,
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
    const number = output.number;
    if (number) this.fillNumbers(rows, featureIndex);
    else this.fillValues(rows, featureIndex);
    const { rowStatus } = rows;
    const nulls = cells.nulls;
    const numbers = this.numbers;
    const counts = this.counts;
    const rule = this.rule;
    let asRows = true;
    for (let i = 0; i < n; i++) {
      const status = valueStatus(rowStatus[i]!, nulls[i] === 1);
      statuses[i] = status;
      // Literal keys: a keyed increment per value cost more than the rest of the loop.
      if (status === 'PRESENT') {
        counts.PRESENT++;
        continue;
      }
      if (status === 'NULL_VALUE') {
        counts.NULL_VALUE++;
        asRows = false;
      } else if (status === 'NOT_FOUND') counts.NOT_FOUND++;
      else counts.OUTSIDE_MAX_AGE++;
      if (!readsAsDefault(status, rule)) continue;
      // A hole: the feature's default, or null without one.
      if (number) {
        numbers[i] = fallback === null ? NaN : (fallback as number);
        nulls[i] = fallback === null ? 1 : 0;
      } else {
        values[i] = fallback;
        nulls[i] = fallback === null ? 1 : 0;
      }
    }
    cells.eventTsMs = rows.eventTsMs;
    cells.tailKey = asRows ? rows : undefined;
    return cells;
  }

  /** A number column's stored values into `numbers` and `nulls`: column-store rows in one read, others from their values, NOT_FOUND as null. */
  private fillNumbers(rows: ViewRows, featureIndex: number): void {
    const numbers = this.numbers;
    const nulls = this.cells.nulls;
    rows.columns?.readNumbers(featureIndex, rows.records, numbers, nulls);
    for (let i = 0; i < this.n; i++) {
      if (rows.records[i]! >= 0) continue;
      // A value that is not a number (none is, from a tier that keeps to its dtypes) is answered as null.
      const v = rows.rowStatus[i] === 'NOT_FOUND' ? null : rows.rows[i]!.values[featureIndex];
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

  /** Any other column's stored values into `values` and `nulls`. */
  private fillValues(rows: ViewRows, featureIndex: number): void {
    const { values, nulls } = this.cells;
    rows.columns?.readValues(featureIndex, rows.records, values);
    for (let i = 0; i < this.n; i++) {
      if (rows.records[i]! < 0) values[i] = rows.rowStatus[i] === 'NOT_FOUND' ? null : (rows.rows[i]!.values[featureIndex] ?? null);
      nulls[i] = values[i] === null ? 1 : 0;
    }
    this.cells.numbers = undefined;
  }

  private viewRows(view: ViewSpec): ViewRows {
    let v = this.byView.get(view.name);
    if (v) return v;
    const n = this.n;
    const rows = this.results.get(view.name)!.rows;
    v = { rows, rowStatus: new Array(n), eventTsMs: new Float64Array(n), columns: undefined, records: new Int32Array(n).fill(-1) };
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      const status = row ? rowStatusAt(row.eventTsMs, this.nowMs, view.ttlSeconds) : 'NOT_FOUND';
      v.rowStatus[i] = status;
      if (status === 'NOT_FOUND') continue;
      v.eventTsMs[i] = row!.eventTsMs;
      // Rows of one column store (the bundle) are read feature by feature; others from their values.
      const columns = row!.columns;
      if (columns !== undefined && (v.columns ??= columns) === columns) v.records[i] = row!.record!;
    }
    this.byView.set(view.name, v);
    return v;
  }
}

/** Builds Feast's response from resolved rows, judging statuses at `nowMs`. */
export function buildResponse(plan: RequestPlan, results: ReadonlyMap<string, ViewResult>, nowMs: number, rule: ValueRule): OnlineFeaturesResponse {
  const answer = new AnswerColumns(plan, results, nowMs, rule);
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

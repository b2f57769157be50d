/**
 * Point-in-time joins in DuckDB SQL: for each probe row (an entity and a
 * time), each feature's value at that row's time by the one rule of
 * src/core/asof.ts. Training sets (training.ts) and the shadow comparison
 * (shadow.ts) both read values through this one query.
 *
 * The winner is picked by DuckDB's ASOF join. ASOF orders build rows by its
 * inequality column alone and takes an arbitrary row among ties, so where a
 * key has several rows at one event time the inequality is not the event
 * time but a STRUCT holding every key of the rule's ordering, generated from
 * ASOF_ORDER: (event_ts, created_ts, file, row), a missing created time as
 * the smallest BIGINT, as the ordering ranks it. The probe's struct is
 * (t, MAX, MAX, MAX), so
 *
 *   probe >= build  <=>  event_ts <= t                    (visible at t)
 *   the greatest build struct <= probe = the rule's winner (ASOF_ORDER)
 *
 * Sorting structs costs about 1.6x the CPU of sorting a BIGINT, so a view
 * whose source has no such tie (tiedEventsSql finds none: the usual case)
 * is joined on the event time alone, where the greatest event time <= t is
 * the rule's winner by itself. Either way no value whose event time is
 * after the probe's time can be chosen; the value expression checks
 * `event_ts <= t` once more anyway.
 *
 *   fresh:  the winner's ttl == 0 or t - event_ts <= ttl (isFreshAt)
 *   value:  the winner's value when fresh, else (a hole: NOT_FOUND,
 *           NULL_VALUE, OUTSIDE_MAX_AGE) the feature's default, or null
 *           without one or with `defaults: false` (readsAsDefault/valueAt)
 *
 * test/bundle-builder/training-property.test.ts proves the result equals
 * winnerAt/statusAt/valueAt on random data.
 */
import { ASOF_ORDER, type AsofRole, type RowStatus } from '../src/core/asof.js';
import type { Dtype } from '../src/core/dtypes.js';
import type { FeatureDef } from '../src/core/repo/types.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows, sqlIdent, sqlString } from './duckdb.js';
import type { ViewReadPlan } from './sources/check.js';
import { FILE_COLUMN, ROW_COLUMN } from './sources/source.js';

/** The probe relation's time column (epoch ms, BIGINT; null: the row gets no value). */
export const PROBE_TIME = '__larder_probe_ms';
/** Columns each view's build side adds, per view index: the winner's event and created time (epoch ms). */
export const winnerEventColumn = (v: number) => `__larder_e${v}`;
export const winnerCreatedColumn = (v: number) => `__larder_c${v}`;
/** A feature's stored value in the winning row (before the rule), per view and feature index. */
export const storedColumn = (v: number, f: number) => `__larder_s${v}_${f}`;
/** Per view, what time alone says of its winner at the probe's time (rowStatusAt), as a ROW_STATUS_CODES index. */
export const rowStatusColumn = (v: number) => `__larder_status${v}`;
/** The codes of rowStatusColumn: TINYINT i is ROW_STATUS_CODES[i]. */
export const ROW_STATUS_CODES = ['PRESENT', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'] as const satisfies readonly RowStatus[];

const ASOF_KEY = '__larder_asof_key';
const PROBE_KEY = '__larder_probe_key';
const KEY = '__larder_k';
const EVENT = '__larder_event';
const CREATED = '__larder_created';
const MAX = '9223372036854775807::BIGINT';
/** The smallest BIGINT DuckDB parses as a literal: below every real time, as a missing value ranks. */
const MISSING = '(-9223372036854775807)::BIGINT';

// The probe's struct asks for event_ts <= t only while event time is the first key.
if (ASOF_ORDER[0].role !== 'event_ts') throw new Error('point-in-time-sql: ASOF_ORDER must start with event_ts');

/**
 * The rule's ordering as one comparable STRUCT, a field per key of
 * ASOF_ORDER (`columns` as for asofOrderBySql), each BIGINT, a null as
 * MISSING; or, for a probe, the probe time then MAX in every other field.
 */
function orderStructSql(columns: Readonly<Record<AsofRole, readonly string[]>>, probeTime?: string): string {
  const fields = ASOF_ORDER.flatMap((key) =>
    columns[key.role].map((c, i) => {
      const value = probeTime === undefined ? `coalesce(CAST(${c} AS BIGINT), ${MISSING})` : key.role === 'event_ts' ? `CAST(${probeTime} AS BIGINT)` : MAX;
      return `${sqlString(`${key.role}${i}`)}: ${value}`;
    }),
  );
  return `{${fields.join(', ')}}`;
}

/** A SQL literal of a feature value in the type featureSql gives `dtype` (timestamps as epoch ms). */
export function physicalLiteral(dtype: Dtype, v: unknown): string {
  switch (dtype) {
    case 'int64':
      return `CAST(${Number(v)} AS BIGINT)`;
    case 'float32':
    case 'float64':
      return `CAST(${Number(v)} AS DOUBLE)`;
    case 'string':
      return `CAST(${sqlString(String(v))} AS VARCHAR)`;
    case 'bool':
      return v ? 'TRUE' : 'FALSE';
    case 'timestamp':
      return `CAST(${typeof v === 'number' ? v : Date.parse(String(v))} AS BIGINT)`;
    case 'float32[]':
      return `CAST([${(v as number[]).map(Number).join(', ')}] AS FLOAT[])`;
    case 'int64[]':
      return `CAST([${(v as number[]).map(Number).join(', ')}] AS BIGINT[])`;
    case 'string[]':
      return `CAST([${(v as string[]).map((s) => sqlString(String(s))).join(', ')}] AS VARCHAR[])`;
  }
}

/** The rows a view's join may pick from: those with every join key and an event time. */
function joinableWhere(plan: ViewReadPlan): string {
  // The event time's column is null exactly when its epoch ms is.
  return [...plan.joinKeys.map((k) => `s.${sqlIdent(k.name)}`), `s.${sqlIdent(plan.source.def.timestampField)}`].map((c) => `${c} IS NOT NULL`).join(' AND ');
}

/**
 * How many (key, event time) pairs of a view's source have more than one
 * row (column `tied`): when none do, the event time alone decides the
 * winner and the join sorts BIGINTs instead of the ordering's STRUCT.
 */
export function tiedEventsSql(plan: ViewReadPlan): string {
  const keys = plan.joinKeys.map((k) => `s.${sqlIdent(k.name)}`);
  return `SELECT count(*) AS tied FROM (SELECT 1 FROM ${plan.source.relation} AS s WHERE ${joinableWhere(plan)}
    GROUP BY ${[...keys, plan.eventTsSql].join(', ')} HAVING count(*) > 1)`;
}

/** A view's build side: every joinable source row, its ASOF column (the ordering's STRUCT when `tied`, else the event time) and its features. */
function buildSql(plan: ViewReadPlan, tied: boolean): string {
  // The source position: the file's place among the source's files (sorted by path), then the row in it.
  const fileIndex = `list_position([${plan.source.files.map(sqlString).join(', ')}], s.${FILE_COLUMN})`;
  const cols = [
    ...plan.joinKeys.map((k, i) => `CAST(s.${sqlIdent(k.name)} AS ${keyType(k.dtype)}) AS ${KEY}${i}`),
    `${plan.eventTsSql} AS ${EVENT}`,
    `${plan.createdTsSql ?? 'CAST(NULL AS BIGINT)'} AS ${CREATED}`,
    // Without ties the event time itself is the ASOF column (EVENT).
    ...(tied ? [`${orderStructSql({ event_ts: [plan.eventTsSql], created_ts: [plan.createdTsSql ?? 'NULL'], source_position: [fileIndex, `s.${ROW_COLUMN}`] })} AS ${ASOF_KEY}`] : []),
    ...plan.features.map((f, i) => `${f.sql} AS f${i}`),
  ];
  return `(SELECT ${cols.join(', ')} FROM ${plan.source.relation} AS s WHERE ${joinableWhere(plan)})`;
}

const keyType = (dtype: 'int64' | 'string') => (dtype === 'int64' ? 'BIGINT' : 'VARCHAR');

/** One view of the join: its plan and the probe columns holding its join keys, in key order. */
export interface JoinView {
  plan: ViewReadPlan;
  probeKeys: readonly string[];
  /** Whether a key of the source has several rows at one event time (tiedEventsSql). */
  tied: boolean;
}

/** One output feature: a feature of one of the joined views. */
export interface JoinOutput {
  view: number;
  /** Index into the view plan's features. */
  feature: number;
  name: string;
}

export interface PointInTimeOptions {
  /** A FROM item with the probe columns and PROBE_TIME. */
  probes: string;
  views: readonly JoinView[];
  outputs: readonly JoinOutput[];
  /** Holes read as the feature's default (false: every hole is null, as `training --no-defaults`). */
  defaults: boolean;
  /** Presentation of each output value, e.g. a cast to FLOAT; identity when absent. */
  present?: (valueSql: string, feature: FeatureDef) => string;
  /** Also select each view's row status (rowStatusColumn). */
  rowStatuses?: boolean;
  /** Also select each view's winner times and each output's stored value (the shadow's diagnostics). */
  diagnostics?: boolean;
  /** Probe columns passed through, as SQL select items over alias `p` (the probe's own columns only). */
  passthrough: string;
  orderBy?: string;
}

/** Whether view v's winner is fresh at the probe's time: the rule's fresh, with visibility checked again. */
function freshSql(v: number, ttlSeconds: number): string {
  const e = `v${v}.${EVENT}`;
  const t = `p.${PROBE_TIME}`;
  const visible = `${e} IS NOT NULL AND ${e} <= ${t}`;
  // The same double isFreshAt compares with (ttlSeconds may have a fraction).
  return ttlSeconds === 0 ? visible : `${visible} AND ${t} - ${e} <= CAST(${ttlSeconds * 1000} AS DOUBLE)`;
}

/** The rule's value of one feature at the probe's time (physical type: timestamps as epoch ms). */
export function ruleValueSql(v: number, ttlSeconds: number, featureIndex: number, def: FeatureDef, defaults: boolean): string {
  const value = `CASE WHEN ${freshSql(v, ttlSeconds)} THEN v${v}.f${featureIndex} END`;
  const fallback = defaults && def.default !== undefined && def.default !== null ? physicalLiteral(def.dtype, def.default) : undefined;
  return fallback === undefined ? value : `COALESCE(${value}, ${fallback})`;
}

/**
 * The point-in-time query: every probe row, in `orderBy` order, with the
 * passthrough columns and each output's value by the rule.
 */
export function pointInTimeSql(opts: PointInTimeOptions): string {
  // The same fields as each build side's struct (the position's two columns included).
  const probeKey = orderStructSql({ event_ts: [PROBE_TIME], created_ts: [''], source_position: ['', ''] }, `p0.${PROBE_TIME}`);
  // A probe without a time matches nothing: its keys are nulled (DuckDB's
  // ASOF matches a NULL struct with the greatest row).
  const joins = opts.views.map((jv, v) => {
    const on = jv.plan.joinKeys.map((k, i) => {
      const probe = `CAST(p.${sqlIdent(jv.probeKeys[i]!)} AS ${keyType(k.dtype)})`;
      return `(CASE WHEN p.${PROBE_TIME} IS NULL THEN NULL ELSE ${probe} END) = v${v}.${KEY}${i}`;
    });
    const inequality = jv.tied ? `p.${PROBE_KEY} >= v${v}.${ASOF_KEY}` : `p.${PROBE_TIME} >= v${v}.${EVENT}`;
    return `ASOF LEFT JOIN ${buildSql(jv.plan, jv.tied)} AS v${v} ON ${[...on, inequality].join(' AND ')}`;
  });
  const present = opts.present ?? ((sql: string) => sql);
  // The probe's struct is made only when a view needs it.
  const tiedAny = opts.views.some((jv) => jv.tied);
  const items = [opts.passthrough];
  for (const o of opts.outputs) {
    const jv = opts.views[o.view]!;
    // checkView plans every feature of the view, in definition order.
    const def = jv.plan.view.features[o.feature]!;
    items.push(`${present(ruleValueSql(o.view, jv.plan.view.ttlSeconds, o.feature, def, opts.defaults), def)} AS ${sqlIdent(o.name)}`);
  }
  if (opts.rowStatuses) {
    opts.views.forEach((jv, v) => {
      const code = (s: RowStatus) => ROW_STATUS_CODES.indexOf(s as (typeof ROW_STATUS_CODES)[number]);
      const status = `CASE WHEN v${v}.${EVENT} IS NULL THEN ${code('NOT_FOUND')} WHEN ${freshSql(v, jv.plan.view.ttlSeconds)} THEN ${code('PRESENT')} ELSE ${code('OUTSIDE_MAX_AGE')} END`;
      items.push(`CAST(${status} AS TINYINT) AS ${rowStatusColumn(v)}`);
    });
  }
  if (opts.diagnostics) {
    opts.views.forEach((_, v) => items.push(`v${v}.${EVENT} AS ${winnerEventColumn(v)}`, `v${v}.${CREATED} AS ${winnerCreatedColumn(v)}`));
    for (const o of opts.outputs) items.push(`v${o.view}.f${o.feature} AS ${storedColumn(o.view, o.feature)}`);
  }
  return `SELECT ${items.join(', ')}
    FROM ${tiedAny ? `(SELECT p0.*, CASE WHEN p0.${PROBE_TIME} IS NULL THEN NULL ELSE ${probeKey} END AS ${PROBE_KEY} FROM ${opts.probes} AS p0)` : opts.probes} AS p
    ${joins.join('\n    ')}${opts.orderBy ? `\n    ORDER BY ${opts.orderBy}` : ''}`;
}

/** The join views of `plans`, each checked for tied event times (one aggregate query per view). */
export async function joinViews(conn: DuckDBConnection, plans: readonly ViewReadPlan[]): Promise<JoinView[]> {
  const views: JoinView[] = [];
  for (const plan of plans) {
    const tied = Number((await queryRows(conn, tiedEventsSql(plan)))[0]!.tied) > 0;
    views.push({ plan, probeKeys: plan.joinKeys.map((k) => k.name), tied });
  }
  return views;
}

/**
 * Point-in-time joins in DuckDB SQL: for each probe row (an entity and a
 * time), each feature's value at that row's time by the one rule of
 * src/core/asof.ts. Training sets (training.ts) and the shadow comparison
 * (shadow.ts) both read values through this one query.
 *
 * The winner is picked by DuckDB's ASOF join on the event time (BIGINT
 * epoch ms): for each probe, the row of its key with the greatest event
 * time <= t. ASOF takes an arbitrary row when a key has several rows at that
 * event time, so those rows are settled first: tiedGroupsSql finds the
 * (key, event time) groups with more than one row (a small table, usually
 * empty), and within them only the rule's winner is kept, by the rule's own
 * ORDER BY (asofOrderBySql: created time, then file and row). What the join
 * sees then has one row per (key, event time), and the greatest event time
 * <= t is the rule's winner.
 *
 *   visible: event_ts <= t (the ASOF inequality; checked again in `fresh`,
 *            so no value from after the probe's time can ever appear)
 *   fresh:   the winner's ttl == 0 or t - event_ts <= ttl (isFreshAt)
 *   value:   the winner's value when fresh, else (a hole: NOT_FOUND,
 *            NULL_VALUE, OUTSIDE_MAX_AGE) the feature's default, or null
 *            without one or with `defaults: false` (readsAsDefault/valueAt)
 *
 * test/bundle-builder/training-property.test.ts proves the result equals
 * winnerAt/statusAt/valueAt on random data.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { type RowStatus, asofOrderBySql } from '../src/core/asof.js';
import type { Dtype } from '../src/core/dtypes.js';
import type { FeatureDef } from '../src/core/repo/types.js';
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

const KEY = '__larder_k';
const EVENT = '__larder_event';
const CREATED = '__larder_created';

/** The rule's ordering over a build side's columns, best first (the snapshot's, from ASOF_ORDER). */
const WINNER_ORDER = asofOrderBySql({ event_ts: [EVENT], created_ts: [CREATED], source_position: [FILE_COLUMN, ROW_COLUMN] });

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

const keyType = (dtype: 'int64' | 'string') => (dtype === 'int64' ? 'BIGINT' : 'VARCHAR');

/** The rows a view's join may pick from: those with every join key and an event time (null exactly when its epoch ms is). */
function joinableWhere(plan: ViewReadPlan): string {
  return [...plan.joinKeys.map((k) => `s.${sqlIdent(k.name)}`), `s.${sqlIdent(plan.source.def.timestampField)}`].map((c) => `${c} IS NOT NULL`).join(' AND ');
}

/** The join keys (as the join compares them) and the event time of a source row `s`. */
function keyAndEventSql(plan: ViewReadPlan): string[] {
  return [...plan.joinKeys.map((k, i) => `CAST(s.${sqlIdent(k.name)} AS ${keyType(k.dtype)}) AS ${KEY}${i}`), `${plan.eventTsSql} AS ${EVENT}`];
}

/**
 * The (key, event time) groups of a view's source that hold more than one
 * row, with columns `__larder_k0..` and `__larder_event`: where the rule's
 * tie-break decides. Usually none.
 */
export function tiedGroupsSql(plan: ViewReadPlan): string {
  const cols = keyAndEventSql(plan);
  return `SELECT ${cols.join(', ')} FROM ${plan.source.relation} AS s WHERE ${joinableWhere(plan)}
    GROUP BY ALL HAVING count(*) > 1`;
}

/**
 * A view's build side: every joinable source row, one per (key, event
 * time). Rows of a tied group (in `tiedTable`) are reduced to the rule's
 * winner; the others, the usual case, pass as they are.
 */
function buildSql(plan: ViewReadPlan, tiedTable: string | undefined): string {
  const cols = [
    ...keyAndEventSql(plan),
    `${plan.createdTsSql ?? 'CAST(NULL AS BIGINT)'} AS ${CREATED}`,
    ...plan.features.map((f, i) => `${f.sql} AS f${i}`),
  ];
  const rows = (join: string, position = '') => `SELECT ${cols.join(', ')}${position} FROM ${plan.source.relation} AS s ${join} WHERE ${joinableWhere(plan)}`;
  if (!tiedTable) return `(${rows('')})`;
  const on = [...plan.joinKeys.map((k, i) => `CAST(s.${sqlIdent(k.name)} AS ${keyType(k.dtype)}) = t.${KEY}${i}`), `${plan.eventTsSql} = t.${EVENT}`].join(' AND ');
  const groups = [...plan.joinKeys.map((_, i) => `${KEY}${i}`), EVENT].join(', ');
  const untied = rows(`ANTI JOIN ${sqlIdent(tiedTable)} AS t ON ${on}`);
  const tied = rows(`SEMI JOIN ${sqlIdent(tiedTable)} AS t ON ${on}`, `, s.${FILE_COLUMN}, s.${ROW_COLUMN}`);
  const winners = `SELECT * EXCLUDE (${FILE_COLUMN}, ${ROW_COLUMN}) FROM (${tied}) QUALIFY row_number() OVER (PARTITION BY ${groups} ORDER BY ${WINNER_ORDER}) = 1`;
  return `(${untied} UNION ALL BY NAME ${winners})`;
}

/** One view of the join: its plan, the probe columns holding its join keys (key order), and its tied groups, if any. */
export interface JoinView {
  plan: ViewReadPlan;
  probeKeys: readonly string[];
  /** A table of the source's tied (key, event time) groups (tiedGroupsSql), when it has any. */
  tiedTable: string | undefined;
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
  const joins = opts.views.map((jv, v) => {
    const on = jv.plan.joinKeys.map((k, i) => `CAST(p.${sqlIdent(jv.probeKeys[i]!)} AS ${keyType(k.dtype)}) = v${v}.${KEY}${i}`);
    return `ASOF LEFT JOIN ${buildSql(jv.plan, jv.tiedTable)} AS v${v} ON ${[...on, `p.${PROBE_TIME} >= v${v}.${EVENT}`].join(' AND ')}`;
  });
  const present = opts.present ?? ((sql: string) => sql);
  const items = [opts.passthrough];
  for (const o of opts.outputs) {
    const jv = opts.views[o.view]!;
    // checkView plans every feature of the view, in definition order.
    const def = jv.plan.view.features[o.feature]!;
    items.push(`${present(ruleValueSql(o.view, jv.plan.view.ttlSeconds, o.feature, def, opts.defaults), def)} AS ${sqlIdent(o.name)}`);
  }
  if (opts.rowStatuses) {
    const code = (s: RowStatus) => ROW_STATUS_CODES.indexOf(s as (typeof ROW_STATUS_CODES)[number]);
    opts.views.forEach((jv, v) => {
      const status = `CASE WHEN v${v}.${EVENT} IS NULL THEN ${code('NOT_FOUND')} WHEN ${freshSql(v, jv.plan.view.ttlSeconds)} THEN ${code('PRESENT')} ELSE ${code('OUTSIDE_MAX_AGE')} END`;
      items.push(`CAST(${status} AS TINYINT) AS ${rowStatusColumn(v)}`);
    });
  }
  if (opts.diagnostics) {
    opts.views.forEach((_, v) => items.push(`v${v}.${EVENT} AS ${winnerEventColumn(v)}`, `v${v}.${CREATED} AS ${winnerCreatedColumn(v)}`));
    for (const o of opts.outputs) items.push(`v${o.view}.f${o.feature} AS ${storedColumn(o.view, o.feature)}`);
  }
  return `SELECT ${items.join(', ')}
    FROM ${opts.probes} AS p
    ${joins.join('\n    ')}${opts.orderBy ? `\n    ORDER BY ${opts.orderBy}` : ''}`;
}

let tiedTables = 0;

/**
 * The join views of `plans`: each source's tied groups are found (one
 * aggregate over its rows) and kept in a temp table when there are any.
 */
export async function joinViews(conn: DuckDBConnection, plans: readonly ViewReadPlan[]): Promise<JoinView[]> {
  const views: JoinView[] = [];
  for (const plan of plans) {
    const table = `__larder_tied_${++tiedTables}`;
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdent(table)} AS ${tiedGroupsSql(plan)}`);
    const tied = Number((await queryRows(conn, `SELECT count(*) AS n FROM ${sqlIdent(table)}`))[0]!.n);
    if (tied === 0) await conn.run(`DROP TABLE ${sqlIdent(table)}`);
    views.push({ plan, probeKeys: plan.joinKeys.map((k) => k.name), tiedTable: tied > 0 ? table : undefined });
  }
  return views;
}

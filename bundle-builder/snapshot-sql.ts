/**
 * The as-of snapshot in DuckDB SQL: for each entity key, the source row that
 * is the value at `as_of`, by the rule in src/core/asof.ts. The winner's
 * ORDER BY is generated from the rule's own ordering (asofOrderBySql), and
 * test/bundle-builder/asof-property.test.ts proves DuckDB's snapshot equals
 * the TypeScript `winnerAt` on random data.
 *
 *   visible:  event_ts IS NOT NULL AND event_ts <= as_of
 *   winner:   ASOF_ORDER: event_ts, created_ts, source position (file
 *             path, then row number within the file), each greatest first,
 *             a missing value last.
 *   tie:      the runner-up has the same event_ts and created_ts, so only
 *             the source position decided; counted as a build warning.
 *
 * Rows with a null join key belong to no entity and are left out.
 */
import { asofOrderBySql } from '../src/core/asof.js';
import { sqlIdent } from './duckdb.js';
import type { ViewReadPlan } from './sources/check.js';
import { FILE_COLUMN, ROW_COLUMN } from './sources/source.js';

/** Output columns of the snapshot, besides the features (named as the features are). */
export const KEY_PREFIX = '__larder_k';
export const EVENT_COLUMN = '__larder_event_ms';
export const CREATED_COLUMN = '__larder_created_ms';
export const TIE_COLUMN = '__larder_tie';

export const HOT_PREFIX = '__larder_hot';
/** badRowsSql's columns: time column i's value where it is a bad one. */
export const BAD_PREFIX = '__larder_bad';

/** The rule's ordering over the snapshot's columns, best first. */
export const WINNER_ORDER_SQL = asofOrderBySql({
  event_ts: [EVENT_COLUMN],
  created_ts: [CREATED_COLUMN],
  source_position: [FILE_COLUMN, ROW_COLUMN],
});

export interface SnapshotOptions {
  asOfMs: number;
  /**
   * Restricts the snapshot to these keys: a table with VARCHAR columns
   * `__larder_hot0..n` holding each join key's canonical text (see
   * keys.ts: an integer as its decimal digits), in join key order.
   */
  hotKeysTable?: string;
  /** Leaves out rows holding a time larder cannot store (--on-bad-row skip); otherwise the build has already failed on them. */
  skipBadRows?: boolean;
}

/** SQL true where a source row holds a time larder cannot store in any of the view's time columns. */
export function badRowSql(plan: ViewReadPlan): string {
  return plan.timeColumns.length === 0 ? 'FALSE' : `(${plan.timeColumns.map((c) => c.badSql).join(' OR ')})`;
}

/** The source rows visible at as_of, with key, time and position columns. */
function visibleRowsSql(plan: ViewReadPlan, opts: SnapshotOptions): string {
  // Keys as BIGINT or VARCHAR whatever their source width: the reader reads 8-byte integers.
  const keys = plan.joinKeys.map((k, i) => `CAST(${sqlIdent(k.name)} AS ${k.dtype === 'int64' ? 'BIGINT' : 'VARCHAR'}) AS ${KEY_PREFIX}${i}`);
  const created = plan.createdTsSql ?? 'CAST(NULL AS BIGINT)';
  const features = plan.features.map((f) => `${f.sql} AS ${sqlIdent(f.name)}`);
  const notNullKeys = plan.joinKeys.map((k) => `${sqlIdent(k.name)} IS NOT NULL`);
  let from = `${plan.source.relation} AS s`;
  if (opts.hotKeysTable) {
    const on = plan.joinKeys.map((k, i) => `CAST(s.${sqlIdent(k.name)} AS VARCHAR) = h.${HOT_PREFIX}${i}`).join(' AND ');
    from += ` SEMI JOIN ${sqlIdent(opts.hotKeysTable)} AS h ON ${on}`;
  }
  return `SELECT ${[...keys, `${plan.eventTsSql} AS ${EVENT_COLUMN}`, `${created} AS ${CREATED_COLUMN}`, `s.${FILE_COLUMN}`, `s.${ROW_COLUMN}`, ...features].join(', ')}
    FROM ${from}
    WHERE ${[...notNullKeys, `${plan.eventTsSql} <= ${Math.floor(opts.asOfMs)}`, ...(opts.skipBadRows ? [`NOT ${badRowSql(plan)}`] : [])].join(' AND ')}`;
}

/**
 * The snapshot query: one row per entity key with the key columns
 * (`__larder_k0..`), the event time in epoch ms, every feature, and whether
 * the winner was decided by source position alone.
 */
export function snapshotSql(plan: ViewReadPlan, opts: SnapshotOptions): string {
  const keyCols = plan.joinKeys.map((_, i) => `${KEY_PREFIX}${i}`);
  const features = plan.features.map((f) => sqlIdent(f.name));
  const next = (c: string) => `lead(${c}) OVER w`;
  const tie = `(${next(EVENT_COLUMN)} IS NOT DISTINCT FROM ${EVENT_COLUMN} AND ${next(CREATED_COLUMN)} IS NOT DISTINCT FROM ${CREATED_COLUMN}) AS ${TIE_COLUMN}`;
  return `WITH visible AS (${visibleRowsSql(plan, opts)})
    SELECT ${[...keyCols, EVENT_COLUMN, CREATED_COLUMN, ...features, tie].join(', ')}
    FROM visible
    WINDOW w AS (PARTITION BY ${keyCols.join(', ')} ORDER BY ${WINNER_ORDER_SQL})
    QUALIFY row_number() OVER w = 1`;
}

/**
 * Counts of the source's rows: all; those skipped for a null key or a null
 * event time; those with a key holding a time larder cannot store (bad);
 * and those visible at as_of (bad rows left out when `skipBadRows`).
 */
export function sourceCountsSql(plan: ViewReadPlan, asOfMs: number, skipBadRows = false): string {
  const nullKey = plan.joinKeys.map((k) => `${sqlIdent(k.name)} IS NULL`).join(' OR ');
  const bad = badRowSql(plan);
  return `SELECT count(*) AS total,
      count(*) FILTER (WHERE ${nullKey}) AS null_key,
      count(*) FILTER (WHERE ${sqlIdent(plan.source.def.timestampField)} IS NULL) AS null_time,
      count(*) FILTER (WHERE NOT (${nullKey}) AND ${bad}) AS bad,
      count(*) FILTER (WHERE NOT (${nullKey}) AND ${plan.eventTsSql} <= ${Math.floor(asOfMs)}${skipBadRows ? ` AND NOT ${bad}` : ''}) AS visible
    FROM ${plan.source.relation} AS s`;
}

/**
 * The first `limit` rows (in source order) with a key that hold a time
 * larder cannot store: file, row (from 1), the key, and per time column its
 * value as text where it is the bad one (else NULL).
 */
export function badRowsSql(plan: ViewReadPlan, limit: number): string {
  const nullKey = plan.joinKeys.map((k) => `${sqlIdent(k.name)} IS NULL`).join(' OR ');
  // Parquet and Arrow number rows from 0, CSV (WITH ORDINALITY) from 1.
  const rowFrom1 = plan.source.format === 'csv' ? ROW_COLUMN : `${ROW_COLUMN} + 1`;
  const cols = [
    `${FILE_COLUMN} AS file`,
    `${rowFrom1} AS row_number`,
    ...plan.joinKeys.map((k, i) => `CAST(${sqlIdent(k.name)} AS VARCHAR) AS ${KEY_PREFIX}${i}`),
    ...plan.timeColumns.map((c, i) => `CASE WHEN ${c.badSql} THEN CAST(${sqlIdent(c.column)} AS VARCHAR) END AS ${BAD_PREFIX}${i}`),
  ];
  return `SELECT ${cols.join(', ')} FROM ${plan.source.relation} AS s
    WHERE NOT (${nullKey}) AND ${badRowSql(plan)}
    ORDER BY ${FILE_COLUMN}, ${ROW_COLUMN}
    LIMIT ${limit}`;
}

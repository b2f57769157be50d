/**
 * "The value at time t": the one rule shared by the builder's snapshot,
 * Redis materialization, sidecar reads, tier merging and training sets (see
 * ARCHITECTURE.md). Production code calls these functions; the builder's
 * SQL is generated from `ASOF_ORDER` (asofOrderBySql), so the TypeScript
 * comparison and DuckDB's ORDER BY come from one definition, and a property
 * test proves DuckDB's snapshot equals `winnerAt`.
 *
 *   visible:  event_ts <= t
 *   winner:   greatest event_ts, then greatest created_ts (a row without
 *             one loses to a row with one), then the greatest source
 *             position (file, then row); a tie that only the position
 *             broke is counted as a build warning.
 *   fresh:    ttlSeconds == 0, or t - event_ts <= ttlSeconds
 *   hole:     no visible row (NOT_FOUND), a null value (NULL_VALUE), a
 *             winner that is not fresh (OUTSIDE_MAX_AGE). A hole reads as
 *             the feature's default, or null without one.
 */

/** Feast's FieldStatus names. */
export type FieldStatus = 'PRESENT' | 'NULL_VALUE' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

/** What time alone says of a row: the status before its value is looked at. */
export type RowStatus = 'NOT_FOUND' | 'OUTSIDE_MAX_AGE' | 'PRESENT';

/** What the rule orders rows by. `createdTsMs` is null when the source has no created time. */
export interface Versioned {
  eventTsMs: number;
  createdTsMs: number | null;
}

/** A candidate source row: its times and where it stands in the source (file, then row). */
export interface Candidate extends Versioned {
  position: number;
}

/**
 * The winner's ordering, best first, as data: each key is a role, compared
 * descending, with a missing value (null) ranking below every present one.
 * `compareVersions` and `asofOrderBySql` are both read from this list.
 */
export const ASOF_ORDER = [
  { role: 'event_ts', field: 'eventTsMs' },
  { role: 'created_ts', field: 'createdTsMs' },
  { role: 'source_position', field: 'position' },
] as const;

export type AsofRole = (typeof ASOF_ORDER)[number]['role'];

/** One key of the ordering: > 0 when `a` ranks above `b`; null ranks lowest. */
function compareKey(a: number | null | undefined, b: number | null | undefined): number {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) return an === bn ? 0 : an ? -1 : 1;
  return a === b ? 0 : a > b ? 1 : -1;
}

/**
 * Compares two rows by the rule's ordering, as far as the rows carry its
 * keys (a row read from a tier has no source position). Returns > 0 when
 * `a` is the newer, < 0 when `b` is, 0 when the rule cannot tell them apart.
 */
export function compareVersions(a: Versioned & { position?: number }, b: Versioned & { position?: number }): number {
  for (const key of ASOF_ORDER) {
    const c = compareKey(a[key.field], b[key.field]);
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * The rule's ORDER BY, best first, for SQL whose columns hold each role
 * (`columns.source_position` may name several columns: file, then row).
 */
export function asofOrderBySql(columns: Readonly<Record<AsofRole, readonly string[]>>): string {
  return ASOF_ORDER.flatMap((key) => columns[key.role].map((c) => `${c} DESC NULLS LAST`)).join(', ');
}

/** A source row is visible at t when its event time is not after t. */
export function isVisibleAt(eventTsMs: number, tMs: number): boolean {
  return eventTsMs <= tMs;
}

/** Whether the winning value is fresh at t; `ttlSeconds` 0 means never stale. */
export function isFreshAt(eventTsMs: number, tMs: number, ttlSeconds: number): boolean {
  return ttlSeconds === 0 || tMs - eventTsMs <= ttlSeconds * 1000;
}

/**
 * The winner among one key's source rows at `tMs`: the visible row the
 * ordering ranks first, and whether only the source position decided it
 * (a tie, counted as a build warning). Undefined when no row is visible.
 */
export function winnerAt<R extends Candidate>(rows: readonly R[], tMs: number): { row: R; tie: boolean } | undefined {
  let best: R | undefined;
  let runnerUp: R | undefined;
  for (const r of rows) {
    if (!isVisibleAt(r.eventTsMs, tMs)) continue;
    if (best === undefined || compareVersions(r, best) > 0) {
      runnerUp = best;
      best = r;
    } else if (runnerUp === undefined || compareVersions(r, runnerUp) > 0) runnerUp = r;
  }
  if (best === undefined) return undefined;
  const tie = runnerUp !== undefined && runnerUp.eventTsMs === best.eventTsMs && compareKey(runnerUp.createdTsMs, best.createdTsMs) === 0;
  return { row: best, tie };
}

/**
 * What the time alone says of a reader's row at `tMs`: NOT_FOUND when its
 * event time is after t (a reader holds only the latest row of a key, so it
 * cannot know an earlier one), OUTSIDE_MAX_AGE when it is stale, else
 * PRESENT. A request judges this once per row, then each value only for
 * null (valueStatus).
 */
export function rowStatusAt(eventTsMs: number, tMs: number, ttlSeconds: number): RowStatus {
  if (!isVisibleAt(eventTsMs, tMs)) return 'NOT_FOUND';
  if (!isFreshAt(eventTsMs, tMs, ttlSeconds)) return 'OUTSIDE_MAX_AGE';
  return 'PRESENT';
}

/** The status of a value whose row has status `rowStatus` (rowStatusAt): a fresh null value is NULL_VALUE. */
export function valueStatus(rowStatus: RowStatus, isNull: boolean): FieldStatus {
  return rowStatus === 'PRESENT' && isNull ? 'NULL_VALUE' : rowStatus;
}

/** The status of one feature value read at `tMs`. */
export function statusAt(eventTsMs: number, value: unknown, tMs: number, ttlSeconds: number): FieldStatus {
  return valueStatus(rowStatusAt(eventTsMs, tMs, ttlSeconds), value === null || value === undefined);
}

/**
 * How holes are answered. By default every hole reads as the feature's
 * default (null without one), as training sets read it, so the model sees
 * the same input online and offline. `serveStale` answers a stale row's
 * own value instead, as Feast's servers do; its status is OUTSIDE_MAX_AGE
 * either way.
 */
export interface ValueRule {
  serveStale: boolean;
}

export const DEFAULT_VALUE_RULE: ValueRule = { serveStale: false };

/** Whether a value of this status is answered with the feature's default instead of the stored value. */
export function readsAsDefault(status: FieldStatus, rule: ValueRule): boolean {
  return status !== 'PRESENT' && !(status === 'OUTSIDE_MAX_AGE' && rule.serveStale);
}

/**
 * The value the rule answers for a stored value `stored` (null when the
 * row holds none or there is no row) of status `status`.
 */
export function valueAt(stored: unknown, status: FieldStatus, defaultValue: unknown, rule: ValueRule): unknown {
  return readsAsDefault(status, rule) ? (defaultValue ?? null) : (stored ?? null);
}

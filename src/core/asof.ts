/**
 * "The value at time t" — the one rule shared by the builder's snapshot,
 * Redis materialization, sidecar reads and training sets (see
 * ARCHITECTURE.md). The builder applies the selection part in SQL
 * (bundle-builder/snapshot-sql.ts renders it from `ASOF_ORDER`); everything
 * that judges a value at read time calls `statusAt`.
 */

/** Feast's FieldStatus names. */
export type FieldStatus = 'PRESENT' | 'NULL_VALUE' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

/** A source row is visible at t when its event time is not after t. */
export function isVisibleAt(eventTsMs: number, tMs: number): boolean {
  return eventTsMs <= tMs;
}

/**
 * Among visible rows of one key, the winner is the greatest event time, then
 * the greatest created time; a tie left after that is broken by the greatest
 * source position (file name, then row within the file) and counted as a
 * build warning. Returns > 0 when `a` wins over `b`.
 */
export function compareCandidates(
  a: { eventTsMs: number; createdTsMs?: number | null; position: number },
  b: { eventTsMs: number; createdTsMs?: number | null; position: number },
): number {
  if (a.eventTsMs !== b.eventTsMs) return a.eventTsMs - b.eventTsMs;
  const ac = a.createdTsMs ?? -Infinity;
  const bc = b.createdTsMs ?? -Infinity;
  if (ac !== bc) return ac > bc ? 1 : -1;
  return a.position - b.position;
}

/** The ORDER BY of the selection rule, best first, as column roles. */
export const ASOF_ORDER = ['event_ts', 'created_ts', 'source_position'] as const;

/** Whether the winning value is fresh at t; `ttlSeconds` 0 means never stale. */
export function isFreshAt(eventTsMs: number, tMs: number, ttlSeconds: number): boolean {
  return ttlSeconds === 0 || tMs - eventTsMs <= ttlSeconds * 1000;
}

/**
 * What the time alone says of a row read online at `tMs`, before its value
 * is looked at: NOT_FOUND when its event time is after t (the reader holds
 * only the latest row of a key, so it cannot know the earlier one),
 * OUTSIDE_MAX_AGE when it is stale, else PRESENT. A request judges this
 * once per row, and then each value only for null (statusAt).
 */
export function rowStatusAt(eventTsMs: number, tMs: number, ttlSeconds: number): 'NOT_FOUND' | 'OUTSIDE_MAX_AGE' | 'PRESENT' {
  if (!isVisibleAt(eventTsMs, tMs)) return 'NOT_FOUND';
  if (!isFreshAt(eventTsMs, tMs, ttlSeconds)) return 'OUTSIDE_MAX_AGE';
  return 'PRESENT';
}

/** The status of a value whose row has status `rowStatus` (rowStatusAt): a fresh null value is NULL_VALUE. */
export function valueStatus(rowStatus: 'NOT_FOUND' | 'OUTSIDE_MAX_AGE' | 'PRESENT', isNull: boolean): FieldStatus {
  return rowStatus === 'PRESENT' && isNull ? 'NULL_VALUE' : rowStatus;
}

/** The status of one feature value read online at `tMs`. */
export function statusAt(
  eventTsMs: number,
  value: unknown,
  tMs: number,
  ttlSeconds: number,
): FieldStatus {
  return valueStatus(rowStatusAt(eventTsMs, tMs, ttlSeconds), value === null || value === undefined);
}

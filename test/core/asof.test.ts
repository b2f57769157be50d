import { describe, expect, it } from 'vitest';
import { DEFAULT_VALUE_RULE, asofOrderBySql, compareVersions, isFreshAt, isVisibleAt, readsAsDefault, statusAt, valueAt, winnerAt } from '../../src/core/asof.js';

const HOUR = 3_600_000;

describe('the as-of rule', () => {
  it('a row is visible at t when event_ts <= t', () => {
    expect(isVisibleAt(1000, 1000)).toBe(true);
    expect(isVisibleAt(1001, 1000)).toBe(false);
  });

  it('the greatest event_ts wins, then created_ts, then source position', () => {
    const a = { eventTsMs: 10, createdTsMs: 1, position: 0 };
    expect(compareVersions({ ...a, eventTsMs: 11 }, a)).toBeGreaterThan(0);
    expect(compareVersions({ ...a, eventTsMs: 11, createdTsMs: null }, a)).toBeGreaterThan(0);
    expect(compareVersions({ ...a, createdTsMs: 2 }, a)).toBeGreaterThan(0);
    expect(compareVersions({ ...a, createdTsMs: null }, a)).toBeLessThan(0);
    expect(compareVersions({ ...a, position: 5 }, a)).toBeGreaterThan(0);
    expect(compareVersions(a, a)).toBe(0);
    // Rows read from tiers carry no source position: equal times cannot be told apart.
    expect(compareVersions({ eventTsMs: 10, createdTsMs: null }, { eventTsMs: 10, createdTsMs: null })).toBe(0);
  });

  it('winnerAt takes the best visible row and flags a tie only the position broke', () => {
    const rows = [
      { eventTsMs: 10, createdTsMs: 1, position: 0 },
      { eventTsMs: 10, createdTsMs: 1, position: 1 },
      { eventTsMs: 12, createdTsMs: null, position: 2 },
    ];
    expect(winnerAt(rows, 9)).toBeUndefined();
    expect(winnerAt(rows, 11)).toEqual({ row: rows[1], tie: true });
    expect(winnerAt(rows, 12)).toEqual({ row: rows[2], tie: false });
    expect(winnerAt([rows[0]!, { eventTsMs: 10, createdTsMs: 2, position: 0 }], 10)!.tie).toBe(false);
  });

  it('the SQL ORDER BY is read from the same ordering', () => {
    expect(asofOrderBySql({ event_ts: ['e'], created_ts: ['c'], source_position: ['f', 'r'] })).toBe('e DESC NULLS LAST, c DESC NULLS LAST, f DESC NULLS LAST, r DESC NULLS LAST');
  });

  it('every hole reads as the default; serveStale keeps a stale value', () => {
    expect(valueAt(5, 'PRESENT', 0, DEFAULT_VALUE_RULE)).toBe(5);
    for (const hole of ['NOT_FOUND', 'NULL_VALUE', 'OUTSIDE_MAX_AGE'] as const) {
      expect(readsAsDefault(hole, DEFAULT_VALUE_RULE)).toBe(true);
      expect(valueAt(5, hole, 0, DEFAULT_VALUE_RULE)).toBe(0);
      expect(valueAt(5, hole, undefined, DEFAULT_VALUE_RULE)).toBeNull();
    }
    expect(valueAt(5, 'OUTSIDE_MAX_AGE', 0, { serveStale: true })).toBe(5);
    expect(valueAt(null, 'NULL_VALUE', 0, { serveStale: true })).toBe(0);
  });

  it('ttl 0 never goes stale; otherwise stale once t - event_ts > ttl', () => {
    expect(isFreshAt(0, 1e15, 0)).toBe(true);
    expect(isFreshAt(0, HOUR, 3600)).toBe(true);
    expect(isFreshAt(0, HOUR + 1, 3600)).toBe(false);
  });

  it('statusAt gives Feast statuses', () => {
    expect(statusAt(0, 1.5, HOUR, 3600)).toBe('PRESENT');
    expect(statusAt(0, null, HOUR, 3600)).toBe('NULL_VALUE');
    expect(statusAt(0, 1.5, HOUR + 1, 3600)).toBe('OUTSIDE_MAX_AGE');
    expect(statusAt(0, null, HOUR + 1, 3600)).toBe('OUTSIDE_MAX_AGE');
    expect(statusAt(HOUR, 1.5, 0, 3600)).toBe('NOT_FOUND');
  });
});

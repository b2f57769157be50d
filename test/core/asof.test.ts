import { describe, expect, it } from 'vitest';
import { compareCandidates, isFreshAt, isVisibleAt, statusAt } from '../../src/core/asof.js';

const HOUR = 3_600_000;

describe('the as-of rule', () => {
  it('a row is visible at t when event_ts <= t', () => {
    expect(isVisibleAt(1000, 1000)).toBe(true);
    expect(isVisibleAt(1001, 1000)).toBe(false);
  });

  it('the greatest event_ts wins, then created_ts, then source position', () => {
    const a = { eventTsMs: 10, createdTsMs: 1, position: 0 };
    expect(compareCandidates({ ...a, eventTsMs: 11 }, a)).toBeGreaterThan(0);
    expect(compareCandidates({ ...a, createdTsMs: 2 }, a)).toBeGreaterThan(0);
    expect(compareCandidates({ ...a, createdTsMs: null }, a)).toBeLessThan(0);
    expect(compareCandidates({ ...a, position: 5 }, a)).toBeGreaterThan(0);
    expect(compareCandidates(a, a)).toBe(0);
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

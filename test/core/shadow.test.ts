/**
 * The shadow comparison's maths (src/core/shadow/): equality at each
 * dtype's precision, the cause of each kind of difference, the tally and
 * verdict; and drift: PSI near 0 for served values drawn from the training
 * distribution, above 0.2 for a shifted one, numeric and categorical.
 */
import { describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../src/core/bundle/format.js';
import { type OfflineSide, type ServedSide, absDiff, causeOf, sameValue, smapeTerm } from '../../src/core/shadow/compare.js';
import { DriftWindow, driftBuckets, psi } from '../../src/core/shadow/drift.js';
import { ShadowAccumulator, verdict } from '../../src/core/shadow/summary.js';
import { computeStats } from '../../src/core/stats.js';

describe('sameValue', () => {
  it('compares float32 at float32 precision and float64 exactly', () => {
    expect(sameValue('float32', 0.1, Math.fround(0.1))).toBe(true);
    expect(sameValue('float64', 0.1, Math.fround(0.1))).toBe(false);
    expect(sameValue('float32', 0.1, 0.1000001)).toBe(false);
  });

  it('takes an absolute or a relative tolerance', () => {
    expect(sameValue('float64', 100, 100.5, { abs: 0.5, rel: 0 })).toBe(true);
    expect(sameValue('float64', 100, 100.6, { abs: 0.5, rel: 0 })).toBe(false);
    expect(sameValue('float64', 100, 100.6, { abs: 0, rel: 0.01 })).toBe(true);
  });

  it('compares lists element-wise, timestamps as instants, integers whatever their JS type', () => {
    expect(sameValue('float32[]', [0.1, 2], new Float32Array([0.1, 2]))).toBe(true);
    expect(sameValue('float32[]', [0.1, 2], [0.1, 2, 3])).toBe(false);
    expect(sameValue('string[]', ['a', null], ['a', null])).toBe(true);
    expect(sameValue('timestamp', '2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:00:00Z'))).toBe(true);
    expect(sameValue('int64', 7, 7n)).toBe(true);
    expect(sameValue('string', null, null)).toBe(true);
    expect(sameValue('string', 'a', null)).toBe(false);
  });

  it('measures differences: numbers, list elements, SMAPE', () => {
    expect(absDiff('int64', 7, 10)).toBe(3);
    expect(absDiff('float32[]', [1, 2], [1.5, 5])).toBe(3);
    expect(absDiff('string', 'a', 'b')).toBeUndefined();
    expect(absDiff('float64', null, 1)).toBeUndefined();
    expect(smapeTerm('float64', 1, 3)).toBe(1);
    expect(smapeTerm('float64', 0, 0)).toBe(0);
  });
});

describe('causeOf', () => {
  const T = Date.parse('2026-01-01T00:00:00Z');
  const MIN = 60_000;
  const served = (over: Partial<ServedSide>): ServedSide => ({
    value: 1, status: 'PRESENT', tier: 'bundle', eventMs: T - 10 * MIN, createdMs: null, requestMs: T + 30 * MIN, bundleAsOfMs: T, serveStale: false, ...over,
  });
  const offline = (over: Partial<OfflineSide>): OfflineSide => ({ value: 2, status: 'PRESENT', eventMs: T - 10 * MIN, createdMs: null, ...over });
  const HOUR_TTL = 3600;

  it('skew: the same row with another value', () => {
    expect(causeOf(served({}), offline({}), HOUR_TTL)).toBe('skew');
    // Created time is part of the row's identity.
    expect(causeOf(served({ createdMs: T - 5 * MIN }), offline({ createdMs: T - 5 * MIN }), HOUR_TTL)).toBe('skew');
    expect(causeOf(served({ createdMs: T - 5 * MIN }), offline({ createdMs: T - 4 * MIN }), HOUR_TTL)).toBe('unexplained');
  });

  it('stale: a newer offline row written after as_of (by event or created time)', () => {
    expect(causeOf(served({}), offline({ eventMs: T + 5 * MIN }), HOUR_TTL)).toBe('stale');
    expect(causeOf(served({}), offline({ eventMs: T - 5 * MIN, createdMs: T + 1 }), HOUR_TTL)).toBe('stale');
    // A key new since the snapshot.
    expect(causeOf(served({ status: 'NOT_FOUND', tier: 'default', eventMs: null }), offline({ eventMs: T + 5 * MIN }), HOUR_TTL)).toBe('stale');
  });

  it('ttl: the served row expired between as_of and the request while a newer row is fresh; or --serve-stale', () => {
    const expired = served({ status: 'OUTSIDE_MAX_AGE', eventMs: T - 50 * MIN, value: 0 });
    expect(causeOf(expired, offline({ eventMs: T + 20 * MIN }), HOUR_TTL)).toBe('ttl');
    // Already stale at as_of: the bundle was simply old.
    expect(causeOf(served({ status: 'OUTSIDE_MAX_AGE', eventMs: T - 70 * MIN }), offline({ eventMs: T + 20 * MIN }), HOUR_TTL)).toBe('stale');
    expect(causeOf(served({ status: 'OUTSIDE_MAX_AGE', serveStale: true }), offline({ status: 'OUTSIDE_MAX_AGE' }), HOUR_TTL)).toBe('ttl');
  });

  it('not held, and unexplained', () => {
    const none = served({ status: 'NOT_FOUND', tier: 'default', eventMs: null, value: null });
    expect(causeOf(none, offline({ eventMs: T - 5 * MIN }), HOUR_TTL)).toBe('not_held');
    // The bundle held an older row than offline has from before as_of.
    expect(causeOf(served({ eventMs: T - 20 * MIN }), offline({ eventMs: T - 5 * MIN }), HOUR_TTL)).toBe('unexplained');
    // The same from Redis (or a pushed row, or the LRU's copy of one): the online store lagged the offline data.
    for (const tier of ['redis', 'pushed', 'lru']) expect(causeOf(served({ tier, eventMs: T - 20 * MIN }), offline({ eventMs: T - 5 * MIN }), HOUR_TTL)).toBe('stale');
    // But Redis serving a row newer than offline has is no lag.
    expect(causeOf(served({ tier: 'redis', eventMs: T - 5 * MIN }), offline({ eventMs: T - 20 * MIN }), HOUR_TTL)).toBe('unexplained');
    // A served row newer than any offline row.
    expect(causeOf(served({}), offline({ eventMs: null, status: 'NOT_FOUND' }), HOUR_TTL)).toBe('unexplained');
  });
});

describe('ShadowAccumulator', () => {
  it('tallies, keeps one example per entity, and fails past the limit', () => {
    const acc = new ShadowAccumulator();
    const f = { ref: 'v:x', view: 'v', dtype: 'float64' as const, ttlSeconds: 0 };
    const s = (value: unknown, eventMs = 1): ServedSide => ({ value, status: 'PRESENT', tier: 'bundle', eventMs, createdMs: null, requestMs: 10, bundleAsOfMs: 5, serveStale: false });
    const o = (value: unknown, eventMs = 1): OfflineSide => ({ value, status: 'PRESENT', eventMs, createdMs: null });
    for (let i = 0; i < 8; i++) acc.add(f, s(1), o(1), { entity: { id: i }, requestId: 'r', bundleVersion: 1 });
    acc.add(f, s(1), o(3), { entity: { id: 100 }, requestId: 'r', bundleVersion: 1 });
    acc.add(f, s(1), o(3), { entity: { id: 100 }, requestId: 'r2', bundleVersion: 1 });
    const summary = acc.summary();
    expect(summary.features[0]).toMatchObject({ compared: 10, equal: 8, mismatched: 2, causes: { skew: 2 }, maxAbsDiff: 2, meanAbsDiff: 0.4 });
    expect(summary.features[0]!.smape).toBeCloseTo((100 * 2 * 1) / 10, 9);
    expect(summary.worst.length).toBe(1);
    expect(verdict(summary, 0.2)).toEqual({ pass: true, failures: [] });
    expect(verdict(summary, 0.1).failures).toEqual(['v:x: skew rate 20.00% (2 of 10) is above --max-mismatch 10.00%']);
  });
});

/** A deterministic stream of uniform numbers in [0, 1). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Normal(mean, sd) by Box-Muller. */
function normals(n: number, mean: number, sd: number, seed: number): number[] {
  const u = uniform(seed);
  return Array.from({ length: n }, () => mean + sd * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}

function manifestWith(stats: Record<string, ReturnType<typeof computeStats>>): BundleManifest {
  return {
    format: 'larder-bundle', formatVersion: 3, project: 'p', version: 1, parentVersion: null, createdAt: '', asOf: '', contentSha256: '', warnings: [],
    repo: {
      project: 'p', entities: [{ name: 'e', joinKeys: ['id'] }], sources: [], featureServices: [],
      featureViews: [{ name: 'v', entities: ['e'], source: 's', ttlSeconds: 0, features: [{ name: 'amount', dtype: 'float64' }, { name: 'city', dtype: 'string' }, { name: 'emb', dtype: 'float32[]' }] }],
    },
    views: [{ name: 'v', keyCount: 0, joinKeys: [{ name: 'id', dtype: 'int64' }], features: stats }],
  };
}

describe('drift', () => {
  const training = normals(20_000, 50, 10, 1);
  const cities = (n: number, seed: number, weights: number[]) => {
    const u = uniform(seed);
    const names = ['Amsterdam', 'Berlin', 'Paris', 'Rome'];
    return Array.from({ length: n }, () => {
      let x = u() * weights.reduce((a, b) => a + b, 0);
      for (let i = 0; i < names.length; i++) if ((x -= weights[i]!) < 0) return names[i]!;
      return names[names.length - 1]!;
    });
  };
  const manifest = manifestWith({
    amount: computeStats('float64', training),
    city: computeStats('string', cities(20_000, 2, [4, 3, 2, 1])),
    emb: computeStats('float32[]', [[1, 2]]),
  });
  const HOUR = 3_600_000;

  const served = (window: DriftWindow, amounts: number[], cityNames: string[], nowMs: number) => {
    window.observe('v', 0, { values: [], numbers: Float64Array.from(amounts), statuses: amounts.map(() => 'PRESENT' as const) }, amounts.length, nowMs);
    window.observe('v', 1, { values: cityNames, numbers: undefined, statuses: cityNames.map(() => 'PRESENT' as const) }, cityNames.length, nowMs);
  };

  it('PSI is near 0 for values drawn from the training distribution', () => {
    const w = new DriftWindow(manifest, { windowMs: HOUR }, 0);
    served(w, normals(5000, 50, 10, 7), cities(5000, 8, [4, 3, 2, 1]), 1000);
    const report = w.report(2000);
    const byName = Object.fromEntries(report.features.map((f) => [f.feature, f]));
    expect(Object.keys(byName)).toEqual(['amount', 'city']); // lists have no distribution to compare
    expect(byName.amount!.samples).toBe(5000);
    expect(byName.amount!.psi!).toBeLessThan(0.02);
    expect(byName.city!.psi!).toBeLessThan(0.01);
  });

  it('PSI is above 0.2 for a shifted distribution, numeric and categorical', () => {
    const w = new DriftWindow(manifest, { windowMs: HOUR }, 0);
    served(w, normals(5000, 60, 10, 7), cities(5000, 8, [1, 2, 3, 4]), 1000);
    const report = w.report(2000);
    expect(report.features.find((f) => f.feature === 'amount')!.psi!).toBeGreaterThan(0.2);
    expect(report.features.find((f) => f.feature === 'city')!.psi!).toBeGreaterThan(0.2);
  });

  it('counts only PRESENT values, and forgets values older than the window', () => {
    const w = new DriftWindow(manifest, { windowMs: HOUR, slices: 4 }, 0);
    w.observe('v', 0, { values: [], numbers: Float64Array.from([50, 50]), statuses: ['PRESENT', 'NOT_FOUND'] }, 2, 10);
    expect(w.report(20).features[0]!.samples).toBe(1);
    w.observe('v', 0, { values: [], numbers: Float64Array.from([55]), statuses: ['PRESENT'] }, 1, HOUR / 2);
    expect(w.report(HOUR / 2).features[0]!.samples).toBe(2);
    expect(w.report(HOUR + 1).features[0]!.samples).toBe(1);
    expect(w.report(3 * HOUR).features[0]!).toMatchObject({ samples: 0, psi: null });
  });

  it('puts values outside the training range in their own buckets', () => {
    const b = driftBuckets('float64', computeStats('float64', [0, 10]))!;
    expect([b.bucketOf(-1), b.bucketOf(0), b.bucketOf(10), b.bucketOf(11)]).toEqual([0, 1, 20, 21]);
    expect(psi(b.expected, Array.from({ length: 22 }, (_, i) => (i === 21 ? 10 : 0)))).toBeGreaterThan(1);
  });
});

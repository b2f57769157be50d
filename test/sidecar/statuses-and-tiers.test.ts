/**
 * Statuses judged at request time by the injected clock (TTL enforced on
 * read), defaults for NOT_FOUND, and which tier answered, as the response
 * headers report it. The LRU, which keeps rows of remote tiers, is tested
 * in app.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { EPOCH, HOUR, T0, eventually, useShopSidecar, writeShopBundle } from './helpers.js';

const s = useShopSidecar();

async function column(body: object, name: string, atMs: number) {
  s.clock.nowMs = atMs;
  const res = await s.post(body);
  expect(res.status).toBe(200);
  const json = (await res.json()) as { metadata: { feature_names: string[] }; results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[] };
  return json.results[json.metadata.feature_names.indexOf(name)]!;
}

const clicksOf = (ids: number[]) => ({ features: ['user_stats:clicks', 'user_stats:country', 'user_stats:ctr'], entities: { user_id: ids } });

describe('statuses', () => {
  it('PRESENT at t, still PRESENT at t + ttl, OUTSIDE_MAX_AGE at t + ttl + 1 s: a hole, read as the default, with its row\'s timestamp', async () => {
    // User 1 was written at T0; user_stats has a 3600 s TTL.
    expect((await column(clicksOf([1]), 'clicks', T0)).statuses).toEqual(['PRESENT']);
    expect((await column(clicksOf([1]), 'clicks', T0 + HOUR)).statuses).toEqual(['PRESENT']);
    const stale = await column(clicksOf([1]), 'clicks', T0 + HOUR + 1000);
    expect(stale).toEqual({ values: [0], statuses: ['OUTSIDE_MAX_AGE'], event_timestamps: ['2026-01-01T00:00:00Z'] });
  });

  it('NULL_VALUE for a stored null, NOT_FOUND for no row: both holes, read as the configured default, or null without one', async () => {
    const at = T0 + 60_000;
    expect(await column(clicksOf([3, 99]), 'country', at)).toEqual({ values: ['unknown', 'unknown'], statuses: ['NULL_VALUE', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', EPOCH] });
    expect(await column(clicksOf([3, 99]), 'clicks', at)).toEqual({ values: [30, 0], statuses: ['PRESENT', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', EPOCH] });
    expect(await column(clicksOf([3, 99]), 'ctr', at)).toEqual({ values: [null, null], statuses: ['NULL_VALUE', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', EPOCH] });
  });

  it('a row written after the clock is not visible: NOT_FOUND with the default', async () => {
    expect(await column(clicksOf([1]), 'clicks', T0 - 1)).toEqual({ values: [0], statuses: ['NOT_FOUND'], event_timestamps: [EPOCH] });
  });

  it('ttlSeconds 0 never goes stale', async () => {
    const body = { features: ['user_product:affinity'], entities: { user_id: [1], product_id: ['p1'] } };
    expect((await column(body, 'affinity', T0 + 400 * 24 * HOUR)).statuses).toEqual(['PRESENT']);
  });
});

describe('tiers and headers', () => {
  it('every request is served by the bundle (the LRU keeps only rows of remote tiers, and none is configured) and carries its version', async () => {
    s.clock.nowMs = T0;
    const body = { features: ['user_stats:clicks'], entities: { user_id: [1, 2] } };
    const first = await s.post(body);
    expect(first.headers.get('x-larder-served-by')).toBe('bundle=2,default=0');
    expect(first.headers.get('x-larder-bundle-version')).toBe('1');
    const second = await s.post(body);
    expect(second.headers.get('x-larder-served-by')).toBe('bundle=2,default=0');
    expect(second.headers.get('x-larder-bundle-version')).toBe('1');
    expect(await second.json()).toEqual(await first.json());
  });

  it('keys no tier holds are counted as default; each view of a request counts its entities', async () => {
    s.clock.nowMs = T0;
    const res = await s.post({ feature_service: 'ranker', entities: { user_id: [1, 7], product_id: ['p1', 'p1'] } });
    // user_stats: 1 found, 7 missing; user_product: (1,p1) found, (7,p1) missing.
    expect(res.headers.get('x-larder-served-by')).toBe('bundle=2,default=2');
  });

  it('Server-Timing reports body and resolve durations in ms', async () => {
    const res = await s.post({ features: ['user_stats:clicks'], entities: { user_id: [1] } });
    expect(res.headers.get('server-timing')).toMatch(/^body;dur=\d+\.\d{3}, resolve;dur=\d+\.\d{3}$/);
  });

  it('a new bundle version is served and reported in the headers', async () => {
    s.clock.nowMs = T0;
    const body = { features: ['user_stats:clicks'], entities: { user_id: [1] } };
    expect((await s.post(body)).headers.get('x-larder-bundle-version')).toBe('1');
    await writeShopBundle(s.dir, 2);
    await eventually(() => s.sidecar.holder.current?.version === 2, 5000, 'bundle v2');
    const after = await s.post(body);
    expect(after.headers.get('x-larder-bundle-version')).toBe('2');
    expect(after.headers.get('x-larder-served-by')).toBe('bundle=1,default=0');
    // Version 2 has clicks 20 for user 1 (see shopViews).
    const json = (await after.json()) as { results: { values: unknown[] }[] };
    expect(json.results[1]!.values).toEqual([20]);
  });
});

/**
 * POST /get-online-features over a real socket, compared field by field
 * with Feast's documented response: metadata.feature_names (join keys
 * first, in request order), then one result per name in that order, each
 * holding values, statuses and event_timestamps across the entities.
 */
import { describe, expect, it } from 'vitest';
import { EPOCH, useShopSidecar } from './helpers.js';

const s = useShopSidecar(); // clock at T0 + 30 min

interface FeastResponse {
  metadata: { feature_names: string[] };
  results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[];
}

async function query(body: unknown): Promise<FeastResponse> {
  const res = await s.post(body);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  const json = (await res.json()) as FeastResponse;
  // Exactly Feast's fields, nothing more.
  expect(Object.keys(json)).toEqual(['metadata', 'results']);
  expect(Object.keys(json.metadata)).toEqual(['feature_names']);
  expect(json.results).toHaveLength(json.metadata.feature_names.length);
  for (const r of json.results) expect(Object.keys(r)).toEqual(['values', 'statuses', 'event_timestamps']);
  return json;
}

describe('Feast response shape', () => {
  it('single join key, "features", short names', async () => {
    const json = await query({ features: ['user_stats:clicks', 'user_stats:ctr'], entities: { user_id: [1, 4] } });
    expect(json.metadata.feature_names).toEqual(['user_id', 'clicks', 'ctr']);
    // The join key column echoes the request, PRESENT, at the epoch.
    expect(json.results[0]).toEqual({ values: [1, 4], statuses: ['PRESENT', 'PRESENT'], event_timestamps: [EPOCH, EPOCH] });
    // User 4 is not in the bundle: NOT_FOUND, the configured default (clicks: 0), no default (ctr): null.
    expect(json.results[1]).toEqual({ values: [10, 0], statuses: ['PRESENT', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', EPOCH] });
    expect(json.results[2]).toEqual({ values: [0.25, null], statuses: ['PRESENT', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', EPOCH] });
  });

  it('full_feature_names: true names columns view__feature; false is the default', async () => {
    const body = { features: ['user_stats:clicks', 'user_stats:ctr'], entities: { user_id: [1] } };
    const full = await query({ ...body, full_feature_names: true });
    expect(full.metadata.feature_names).toEqual(['user_id', 'user_stats__clicks', 'user_stats__ctr']);
    const short = await query({ ...body, full_feature_names: false });
    expect(short.metadata.feature_names).toEqual(['user_id', 'clicks', 'ctr']);
    expect(full.results).toEqual(short.results);
    expect((await query(body)).metadata.feature_names).toEqual(short.metadata.feature_names);
  });

  it('"feature_service" with a composite key, columns in service order', async () => {
    const json = await query({ feature_service: 'ranker', entities: { user_id: [1, 2, 1], product_id: ['p1', 'p1', 'p2'] } });
    expect(json.metadata.feature_names).toEqual(['user_id', 'product_id', 'clicks', 'ctr', 'affinity']);
    expect(json.results).toEqual([
      { values: [1, 2, 1], statuses: ['PRESENT', 'PRESENT', 'PRESENT'], event_timestamps: [EPOCH, EPOCH, EPOCH] },
      { values: ['p1', 'p1', 'p2'], statuses: ['PRESENT', 'PRESENT', 'PRESENT'], event_timestamps: [EPOCH, EPOCH, EPOCH] },
      // User 2 was written 2.5 h before the clock with a 1 h TTL: OUTSIDE_MAX_AGE, a hole read as the default.
      { values: [10, 0, 10], statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'PRESENT'], event_timestamps: ['2026-01-01T00:00:00Z', '2025-12-31T22:00:00Z', '2026-01-01T00:00:00Z'] },
      { values: [0.25, null, 0.25], statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'PRESENT'], event_timestamps: ['2026-01-01T00:00:00Z', '2025-12-31T22:00:00Z', '2026-01-01T00:00:00Z'] },
      // (1, p2) is not in the bundle: the view's default 0.5.
      { values: [0.9, 0.1, 0.5], statuses: ['PRESENT', 'PRESENT', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', '2025-12-31T23:59:59Z', EPOCH] },
    ]);
  });

  it('"feature_service" with full feature names', async () => {
    const json = await query({ feature_service: 'ranker', entities: { user_id: [1], product_id: ['p1'] }, full_feature_names: true });
    expect(json.metadata.feature_names).toEqual(['user_id', 'product_id', 'user_stats__clicks', 'user_stats__ctr', 'user_product__affinity']);
  });

  it('join keys come first in the order the request gives them', async () => {
    const json = await query({ features: ['user_product:affinity'], entities: { product_id: ['p1'], user_id: [1] } });
    expect(json.metadata.feature_names).toEqual(['product_id', 'user_id', 'affinity']);
    expect(json.results[2]!.values).toEqual([0.9]);
  });

  it('every dtype as JSON: timestamps RFC 3339, lists as arrays, nulls as NULL_VALUE', async () => {
    const features = ['clicks', 'ctr', 'country', 'last_seen', 'embedding', 'tags', 'vip'].map((f) => `user_stats:${f}`);
    const json = await query({ features, entities: { user_id: [1, 3] } });
    const byName = Object.fromEntries(json.metadata.feature_names.map((n, i) => [n, json.results[i]!]));
    expect(byName.clicks!.values).toEqual([10, 30]);
    // A stored null is a hole: the default ('unknown') with status NULL_VALUE.
    expect(byName.country!.values).toEqual(['NL', 'unknown']);
    expect(byName.country!.statuses).toEqual(['PRESENT', 'NULL_VALUE']);
    expect(byName.last_seen!.values).toEqual(['2025-12-31T23:59:00Z', null]);
    expect(byName.embedding!.values).toEqual([[0.5, -1], null]);
    expect(byName.tags!.values).toEqual([['a', 'b'], null]);
    expect(byName.vip!.values).toEqual([true, null]);
    expect(byName.ctr!.statuses).toEqual(['PRESENT', 'NULL_VALUE']);
    // A null value still has the row's event time.
    expect(byName.ctr!.event_timestamps).toEqual(['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z']);
  });

  it('zero entities answers empty columns', async () => {
    const json = await query({ features: ['user_stats:clicks'], entities: { user_id: [] } });
    expect(json.results).toEqual([
      { values: [], statuses: [], event_timestamps: [] },
      { values: [], statuses: [], event_timestamps: [] },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { Bundle } from '../../src/core/local-store.js';
import { LarderError } from '../../src/core/errors.js';
import { entityKeyString } from '../../src/core/keys.js';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from './helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

const userStats: FeatureViewDef = {
  name: 'user_stats', entities: ['user'], source: 'src', ttlSeconds: 3600,
  features: [
    { name: 'clicks', dtype: 'int64', default: 0 },
    { name: 'ctr', dtype: 'float64' },
  ],
};
const userProduct: FeatureViewDef = {
  name: 'user_product', entities: ['user', 'product'], source: 'src', ttlSeconds: 0,
  features: [{ name: 'affinity', dtype: 'float64' }],
};
const offline: FeatureViewDef = { ...userStats, name: 'history', online: false };

async function shop(): Promise<Bundle> {
  const repo = repoWith([userStats, userProduct, offline], {
    featureServices: [{ name: 'ranker', features: ['user_stats:*', 'user_product:affinity'] }],
  });
  return Bundle.decode(await bundleBytes(repo, [
    { name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1', '2'], eventTsMs: [T0, T0 - 2 * HOUR], columns: { clicks: [10, 20], ctr: [null, 0.5] } },
    { name: 'user_product', joinKeys: [{ name: 'user_id', dtype: 'int64' }, { name: 'product_id', dtype: 'string' }], keys: [entityKeyString([1, 'p'])], eventTsMs: [T0], columns: { affinity: [0.9] } },
  ]));
}

describe('getOnlineFeatures (in process)', () => {
  it('answers in Feast shape with every status, judged at now', async () => {
    const b = await shop();
    const res = b.getOnlineFeatures(
      { features: ['user_stats:clicks', 'user_stats:ctr'], entities: { user_id: [1, 2, 3] } },
      { now: new Date(T0 + 30 * 60_000) },
    );
    expect(res.metadata.feature_names).toEqual(['user_id', 'clicks', 'ctr']);
    expect(res.results).toEqual([
      { values: [1, 2, 3], statuses: ['PRESENT', 'PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] },
      // Key 2 is 2.5 h old with a 1 h TTL, key 3 is not in the bundle, key 1's ctr is null: each
      // a hole, read as the default (clicks: 0; ctr has none: null), its status saying which hole.
      { values: [10, 0, 0], statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', '2025-12-31T22:00:00Z', '1970-01-01T00:00:00Z'] },
      { values: [null, null, null], statuses: ['NULL_VALUE', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', '2025-12-31T22:00:00Z', '1970-01-01T00:00:00Z'] },
    ]);
  });

  it('serveStale answers a stale row with its own value, still OUTSIDE_MAX_AGE; other holes stay defaults', async () => {
    const b = await shop();
    const res = b.getOnlineFeatures(
      { features: ['user_stats:clicks', 'user_stats:ctr'], entities: { user_id: [1, 2, 3] } },
      { now: new Date(T0 + 30 * 60_000), serveStale: true },
    );
    expect(res.results[1]).toMatchObject({ values: [10, 20, 0], statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'] });
    expect(res.results[2]).toMatchObject({ values: [null, 0.5, null], statuses: ['NULL_VALUE', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'] });
  });

  it('a value goes stale exactly after its TTL', async () => {
    const b = await shop();
    const at = (ms: number) => b.getOnlineFeatures({ features: ['user_stats:clicks'], entities: { user_id: [1] } }, { now: new Date(ms) }).results[1]!.statuses[0];
    expect(at(T0 + HOUR)).toBe('PRESENT');
    expect(at(T0 + HOUR + 1)).toBe('OUTSIDE_MAX_AGE');
  });

  it('serves feature services, composite keys and full feature names', async () => {
    const b = await shop();
    const res = b.getOnlineFeatures({ feature_service: 'ranker', entities: { user_id: [1, 1], product_id: ['p', 'q'] }, full_feature_names: true }, { now: new Date(T0) });
    expect(res.metadata.feature_names).toEqual(['user_id', 'product_id', 'user_stats__clicks', 'user_stats__ctr', 'user_product__affinity']);
    expect(res.results[4]).toEqual({ values: [0.9, null], statuses: ['PRESENT', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] });
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['not an object', [1, 2], 'LARDER_ERR_BAD_REQUEST', /JSON object/],
    ['no features', { entities: { user_id: [1] } }, 'LARDER_ERR_BAD_REQUEST', /"features"/],
    ['both features and service', { features: ['user_stats:ctr'], feature_service: 'ranker', entities: { user_id: [1] } }, 'LARDER_ERR_BAD_REQUEST', /either/],
    ['bad ref', { features: ['user_stats'], entities: { user_id: [1] } }, 'LARDER_ERR_BAD_REQUEST', /"user_stats" is not "view:feature"/],
    ['unknown view', { features: ['nope:x'], entities: { user_id: [1] } }, 'LARDER_ERR_UNKNOWN_VIEW', /"nope" does not exist/],
    ['offline view', { features: ['history:clicks'], entities: { user_id: [1] } }, 'LARDER_ERR_UNKNOWN_VIEW', /not served online/],
    ['unknown feature', { features: ['user_stats:nope'], entities: { user_id: [1] } }, 'LARDER_ERR_UNKNOWN_FEATURE', /has no feature "nope"/],
    ['unknown service', { feature_service: 'nope', entities: { user_id: [1] } }, 'LARDER_ERR_UNKNOWN_SERVICE', /"nope" does not exist/],
    ['missing join key', { features: ['user_product:affinity'], entities: { user_id: [1] } }, 'LARDER_ERR_MISSING_JOIN_KEY', /needs join key "product_id"/],
    ['extra join key', { features: ['user_stats:ctr'], entities: { user_id: [1], shop_id: [2] } }, 'LARDER_ERR_EXTRA_JOIN_KEY', /"shop_id" is not used/],
    ['lengths differ', { features: ['user_product:affinity'], entities: { user_id: [1, 2], product_id: ['p'] } }, 'LARDER_ERR_ENTITY_LENGTHS', /"user_id" has 2 values, "product_id" has 1/],
    ['wrong key type', { features: ['user_stats:ctr'], entities: { user_id: ['1'] } }, 'LARDER_ERR_JOIN_KEY_TYPE', /"user_id" is int64, but value 0 is "1"/],
    ['entities not arrays', { features: ['user_stats:ctr'], entities: { user_id: 1 } }, 'LARDER_ERR_BAD_REQUEST', /must be an array/],
    ['unknown field', { features: ['user_stats:ctr'], entities: { user_id: [1] }, extra: 1 }, 'LARDER_ERR_BAD_REQUEST', /unknown request field "extra"/],
    ['full_feature_names not bool', { features: ['user_stats:ctr'], entities: { user_id: [1] }, full_feature_names: 'yes' }, 'LARDER_ERR_BAD_REQUEST', /boolean/],
  ];
  for (const [what, body, code, message] of bad) {
    it(`rejects a request with ${what}`, async () => {
      const b = await shop();
      let err: unknown;
      try {
        b.getOnlineFeatures(body as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LarderError);
      expect((err as LarderError).code).toBe(code);
      expect((err as LarderError).message).toMatch(message);
      expect((err as LarderError).httpStatus).toBeGreaterThanOrEqual(400);
      expect((err as LarderError).httpStatus).toBeLessThan(500);
    });
  }
});

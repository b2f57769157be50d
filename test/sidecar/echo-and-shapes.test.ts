/**
 * Error messages repeat what a request got wrong, but never more than 64
 * characters of it; shapes that clients commonly send (a null field, a
 * "view:*" reference) mean what they look like.
 */
import { describe, expect, it } from 'vitest';
import { expectError, useShopSidecar } from './helpers.js';

const s = useShopSidecar({ maxBodyBytes: 4 * 1024 * 1024 });
const ok = { features: ['user_stats:clicks'], entities: { user_id: [1] } };

describe('echoes and confusing shapes', () => {
  const huge = 'x'.repeat(900_000);
  const echoed: [string, unknown, number, string][] = [
    ['a 900 KB feature name', { features: [`user_stats:${huge}`], entities: { user_id: [1] } }, 404, 'LARDER_ERR_UNKNOWN_FEATURE'],
    ['a 900 KB view name', { features: [`${huge}:clicks`], entities: { user_id: [1] } }, 404, 'LARDER_ERR_UNKNOWN_VIEW'],
    ['a 900 KB reference', { features: [huge], entities: { user_id: [1] } }, 400, 'LARDER_ERR_BAD_REQUEST'],
    ['a 900 KB service name', { feature_service: huge, entities: { user_id: [1] } }, 404, 'LARDER_ERR_UNKNOWN_SERVICE'],
    ['a 900 KB field name', { ...ok, [huge]: 1 }, 400, 'LARDER_ERR_BAD_REQUEST'],
    ['a 900 KB join key name', { features: ['user_stats:clicks'], entities: { user_id: [1], [huge]: [1] } }, 400, 'LARDER_ERR_EXTRA_JOIN_KEY'],
  ];
  for (const [what, body, status, code] of echoed) {
    it(`${what} is cut to 64 characters in the message, with its length`, async () => {
      const res = await s.post(body);
      await expectError(res, status, code, /"x{64}\.\.\." \(900000 characters\)/);
    });
  }

  it('"feature_service": null beside "features" counts as absent', async () => {
    const res = await s.post({ ...ok, feature_service: null });
    expect(res.status).toBe(200);
  });

  it('"view:*" in "features" selects every feature of the view, in definition order', async () => {
    const res = await s.post({ features: ['user_product:*', 'user_stats:clicks'], entities: { user_id: [1], product_id: ['p1'] } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { metadata: { feature_names: string[] } }).metadata.feature_names).toEqual(['user_id', 'product_id', 'affinity', 'clicks']);
    await expectError(await s.post({ features: ['nope:*'], entities: { user_id: [1] } }), 404, 'LARDER_ERR_UNKNOWN_VIEW', /"nope" does not exist/);
  });
});


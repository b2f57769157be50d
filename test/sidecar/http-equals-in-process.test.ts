/**
 * The sidecar writes its JSON straight from the resolved rows; the
 * in-process API builds Feast's response object. Both go through core's
 * AnswerColumns, and here a real sidecar's answers must parse to exactly the
 * in-process responses (the shop bundle's floats are exact in float32).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Bundle } from '../../src/core/local-store.js';
import { HOUR, T0, shopBundle, useShopSidecar } from './helpers.js';

const s = useShopSidecar();
let inProcess: Bundle;
beforeAll(async () => {
  inProcess = await Bundle.decode(await shopBundle(1));
});

const requests = [
  // every dtype; found, stale, null-holding and missing users
  { features: ['user_stats:clicks', 'user_stats:ctr', 'user_stats:country', 'user_stats:last_seen', 'user_stats:embedding', 'user_stats:tags', 'user_stats:vip'], entities: { user_id: [1, 2, 3, 99] } },
  // a service over two views, composite keys, full names
  { feature_service: 'ranker', entities: { user_id: [1, 2, 7], product_id: ['p1', 'p1', 'p9'] }, full_feature_names: true },
  // the same feature twice, one entity
  { features: ['user_stats:clicks', 'user_stats:clicks'], entities: { user_id: [3] } },
];

describe('HTTP answers equal the in-process API', () => {
  for (const [i, request] of requests.entries()) {
    for (const at of [T0 - 1, T0 + 30 * 60_000, T0 + HOUR + 1000]) {
      it(`request ${i} at ${new Date(at).toISOString()}`, async () => {
        s.clock.nowMs = at;
        const res = await s.post(request);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual(inProcess.getOnlineFeatures(request, { now: new Date(at) }));
      });
    }
  }
});

describe('many answers at once', () => {
  it('each concurrent answer is its own request\'s, also for answers large enough to reuse body memory', async () => {
    s.clock.nowMs = T0 + 30 * 60_000;
    const ids = (i: number) => Array.from({ length: 200 }, (_, k) => ((i + k) % 5) + 1); // users 1..5, 4 and 5 missing
    const bodies = Array.from({ length: 40 }, (_, i) => ({ features: ['user_stats:clicks', 'user_stats:country', 'user_stats:embedding'], entities: { user_id: ids(i) } }));
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(bodies.map(async (b) => (await s.post(b)).json()));
      answers.forEach((a, i) => expect(a).toEqual(inProcess.getOnlineFeatures(bodies[i]!, { now: new Date(s.clock.nowMs) })));
    }
  });
});

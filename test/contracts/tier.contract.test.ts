/**
 * One contract for every tier: the LRU, the bundle, and the test tier
 * answering synchronously and after a delay (as Redis will). Then the
 * resolver's side of the seam: newest-wins merging across tiers, settling,
 * the promise path, and failures and timeouts becoming misses.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Bundle } from '../../src/core/local-store.js';
import { LarderError } from '../../src/core/errors.js';
import { Resolver } from '../../src/core/resolve/resolver.js';
import type { Row, Tier, ViewSpec } from '../../src/core/resolve/tier.js';
import { BundleTier } from '../../src/core/resolve/tiers/bundle.js';
import { LruTier } from '../../src/core/resolve/tiers/lru.js';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from '../core/helpers.js';
import { TestTier } from './test-tier.js';
import { RowValueCodec } from '../../src/core/bundle/row-value.js';
import { closeRedis, connectRedis, type RedisClient, waitReady } from '../../src/sidecar/redis/connection.js';
import { ViewKeys } from '../../src/sidecar/redis/keys.js';
import { writeRows } from '../../src/sidecar/redis/rows.js';
import { RedisTier } from '../../src/sidecar/tiers/redis.js';
import { PushedRows } from '../../src/sidecar/stream/overlay.js';
import { RedisServer } from '../redis-servers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const VIEW_DEF: FeatureViewDef = {
  name: 'user_stats', entities: ['user'], source: 'src', ttlSeconds: 0,
  features: [{ name: 'clicks', dtype: 'int64', default: 0 }, { name: 'country', dtype: 'string' }],
};
const REPO = repoWith([VIEW_DEF]);

/** The rows every implementation is filled with: key -> row of user_stats. */
const HELD: Record<string, Row> = {
  '1': { eventTsMs: T0, createdTsMs: T0 + 5, values: [10, 'NL'] },
  '2': { eventTsMs: T0 - 1000, createdTsMs: null, values: [20, null] },
  '3': { eventTsMs: T0 + 1000, createdTsMs: T0, values: [null, 'DE'] },
};

async function bundleOf(rows: Record<string, Row>): Promise<Bundle> {
  const keys = Object.keys(rows);
  const list = keys.map((k) => rows[k]!);
  return Bundle.decode(await bundleBytes(REPO, [{
    name: 'user_stats',
    joinKeys: [{ name: 'user_id', dtype: 'int64' }],
    keys,
    eventTsMs: list.map((r) => r.eventTsMs),
    createdTsMs: list.map((r) => r.createdTsMs),
    columns: { clicks: list.map((r) => r.values[0]), country: list.map((r) => r.values[1]) },
  }]));
}

let specPromise: Promise<ViewSpec> | undefined;
const viewSpec = () => (specPromise ??= bundleOf(HELD).then((b) => b.catalog.views.get('user_stats')!));

const testRows = (rows: Record<string, Row>) => new Map(Object.entries(rows).map(([k, r]) => [TestTier.key('user_stats', k), r]));

/** One real redis-server for the Redis implementation, started on first use; each tier gets its own namespace. */
let redis: Promise<{ server: RedisServer; client: RedisClient }> | undefined;
let namespaces = 0;
afterAll(async () => {
  if (!redis) return;
  const { server, client } = await redis;
  closeRedis(client);
  await server.stop();
});

async function redisTier(rows: Record<string, Row>): Promise<Tier> {
  redis ??= RedisServer.start().then(async (server) => {
    const target = { kind: 'standalone', url: server.url } as const;
    const client = connectRedis(target, { commandTimeoutMs: 2000, name: 'contract' });
    await waitReady(client, target, 5000);
    return { server, client };
  });
  const { client } = await redis;
  const view = await viewSpec();
  const namespace = `contract${++namespaces}`;
  const codec = new RowValueCodec(view.features);
  const keys = Object.keys(rows);
  const values = codec.encodePacked(keys, keys.map((k) => rows[k]!.eventTsMs), keys.map((k) => rows[k]!.createdTsMs), view.features.map((_, f) => keys.map((k) => rows[k]!.values[f])));
  await writeRows(client, new ViewKeys(namespace, 'shop', view.name, codec.fingerprint), keys, values);
  return new RedisTier({ client, namespace, project: () => 'shop', timeoutMs: 1000 });
}

const IMPLEMENTATIONS: { name: string; make(rows: Record<string, Row>): Promise<Tier> }[] = [
  {
    name: 'lru',
    async make(rows) {
      const lru = new LruTier(1 << 20);
      const view = await viewSpec();
      for (const [k, r] of Object.entries(rows)) lru.remember(view, k, r);
      return lru;
    },
  },
  { name: 'bundle', make: async (rows) => new BundleTier((await bundleOf(rows)).data) },
  { name: 'test tier, synchronous', make: async (rows) => new TestTier(testRows(rows)) },
  { name: 'test tier, answering after 5 ms', make: async (rows) => new TestTier(testRows(rows), { mode: { kind: 'delayed', ms: 5 } }) },
  { name: 'redis (a real redis-server)', make: redisTier },
  {
    name: 'pushed rows (the change stream overlay)',
    async make(rows) {
      const view = await viewSpec();
      const overlay = new PushedRows(1000);
      for (const [k, r] of Object.entries(rows)) overlay.apply(view.name, new RowValueCodec(view.features).fingerprint, k, r, 0);
      return overlay;
    },
  },
];

const plain = (r: Row | undefined) => r && { eventTsMs: r.eventTsMs, createdTsMs: r.createdTsMs, values: [...r.values] };

describe.each(IMPLEMENTATIONS)('tier contract: $name', (impl) => {
  it('fills the asked keys it holds, with their times and values, and touches nothing else', async () => {
    const tier = await impl.make(HELD);
    const view = await viewSpec();
    const keys = ['1', '2', '3', '404', '1'];
    const sentinel: Row = { eventTsMs: -1, createdTsMs: null, values: [] };
    const found: (Row | undefined)[] = [undefined, sentinel, undefined, undefined, undefined];
    // Index 1 is not asked: it must stay as it was.
    await tier.lookup(view, keys, [0, 2, 3, 4], found);
    expect(found[1]).toBe(sentinel);
    expect(found[3]).toBeUndefined();
    expect([plain(found[0]), plain(found[2]), plain(found[4])]).toEqual([HELD['1'], HELD['3'], HELD['1']]);
    expect(typeof tier.name).toBe('string');
    expect(tier.name).not.toBe('default');
  });

  it('through the resolver: held keys are served by the tier by name, others by default', async () => {
    const tier = await impl.make(HELD);
    const view = await viewSpec();
    const resolver = new Resolver([tier]);
    const result = await resolver.resolve(view, ['2', '9', '1']);
    expect(result.rows.map(plain)).toEqual([HELD['2'], undefined, HELD['1']]);
    expect([...result.servedBy].map((t) => resolver.tierNames[t])).toEqual([tier.name, 'default', tier.name]);
  });

  it('holds nothing when empty', async () => {
    const tier = await impl.make({});
    const found: (Row | undefined)[] = [undefined];
    await tier.lookup(await viewSpec(), ['1'], [0], found);
    expect(found).toEqual([undefined]);
  });
});

describe('the resolver across tiers', () => {
  it('the newest row wins across tiers, by event time, then created time; a full tie keeps the earlier tier', async () => {
    const view = await viewSpec();
    const bundle = new BundleTier((await bundleOf(HELD)).data);
    // Pushed rows over the bundle: they do not settle their keys, so the bundle is asked too.
    const pushed = new TestTier(testRows({
      '1': { eventTsMs: T0, createdTsMs: T0 + 6, values: [11, 'BE'] }, // same event time, created later: wins
      '2': { eventTsMs: T0 - 2000, createdTsMs: null, values: [19, 'FR'] }, // older than the bundle's: loses
      '3': { eventTsMs: T0 + 1000, createdTsMs: T0, values: [33, 'IT'] }, // the same times: the earlier tier stays
      '4': { eventTsMs: T0, createdTsMs: null, values: [40, 'ES'] }, // only pushed
    }), { name: 'pushed', settles: false });
    const resolver = new Resolver([pushed, bundle]);
    const result = await resolver.resolve(view, ['1', '2', '3', '4', '5']);
    expect(Array.from(result.rows, (r) => r?.values[0] ?? null)).toEqual([11, 20, 33, 40, null]);
    expect([...result.servedBy].map((t) => resolver.tierNames[t])).toEqual(['pushed', 'bundle', 'pushed', 'pushed', 'default']);
  });

  it('a key a settling tier found is not asked of the tiers after it', async () => {
    const view = await viewSpec();
    const remote = new TestTier(testRows({ '1': { eventTsMs: T0 + 99_000, createdTsMs: null, values: [99, 'XX'] } }), { name: 'remote' });
    const resolver = new Resolver([new BundleTier((await bundleOf(HELD)).data), remote]);
    const result = await resolver.resolve(view, ['1', '7']);
    expect(remote.asked).toEqual(['user_stats/7']);
    expect(result.rows[0]!.values[0]).toBe(10);
  });

  it('stays synchronous while every tier is, and becomes a promise only when one is not', async () => {
    const view = await viewSpec();
    const bundle = new BundleTier((await bundleOf(HELD)).data);
    expect(new Resolver([bundle]).resolve(view, ['1'])).not.toBeInstanceOf(Promise);
    const remote = new TestTier(testRows({ '8': HELD['1']! }), { name: 'remote', mode: { kind: 'delayed', ms: 5 } });
    const pending = new Resolver([bundle, remote]).resolve(view, ['1', '8']);
    expect(pending).toBeInstanceOf(Promise);
    expect((await pending).rows.map((r) => r?.values[0])).toEqual([10, 10]);
  });

  for (const mode of [{ kind: 'throws' }, { kind: 'rejects', ms: 5 }] as const) {
    it(`a tier that ${mode.kind} leaves its keys to the tiers after it, and is reported`, async () => {
      const view = await viewSpec();
      const errors: string[] = [];
      const broken = new TestTier(testRows(HELD), { name: 'broken', mode });
      const backup = new TestTier(testRows({ '2': HELD['2']! }), { name: 'backup' });
      const resolver = new Resolver([broken, backup], { onTierError: (tier, e) => errors.push(`${tier.name}: ${(e as Error).message}`) });
      const result = await resolver.resolve(view, ['1', '2']);
      expect(result.rows.map(plain)).toEqual([undefined, HELD['2']]);
      expect([...result.servedBy].map((t) => resolver.tierNames[t])).toEqual(['default', 'backup']);
      expect(errors).toEqual([mode.kind === 'throws' ? 'broken: broken exploded' : 'broken: broken failed']);
    });
  }

  it('a tier past its deadline is a miss within the deadline, and its late answer never reaches the result', async () => {
    const view = await viewSpec();
    const errors: unknown[] = [];
    const slow = new TestTier(testRows(HELD), { name: 'slow', deadlineMs: 40, mode: { kind: 'hangs' } });
    const after = new TestTier(testRows({ '2': { eventTsMs: T0, createdTsMs: null, values: [2, 'after'] } }), { name: 'after' });
    const resolver = new Resolver([slow, after], { onTierError: (_t, e) => errors.push(e) });
    const started = performance.now();
    const result = await resolver.resolve(view, ['1', '2']);
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(35);
    expect(tookMs).toBeLessThan(500);
    expect(result.rows.map((r) => r?.values[1])).toEqual([undefined, 'after']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(LarderError);
    expect((errors[0] as LarderError).code).toBe('LARDER_ERR_TIER_TIMEOUT');
    // The slow tier answers later into its own scratch array: the result does not change.
    await new Promise((r) => setTimeout(r, 1_100));
    expect(slow.lateWrites).toBe(1);
    expect(result.rows.map((r) => r?.values[1])).toEqual([undefined, 'after']);
  });

  it('offers winners from a tier worth caching to the tiers above it, and no others', async () => {
    const view = await viewSpec();
    const cache = new TestTier(new Map(), { name: 'cache' });
    const bundle = new BundleTier((await bundleOf({ '1': HELD['1']! })).data);
    const remote = new TestTier(testRows({ '2': HELD['2']! }), { name: 'remote', worthCaching: true, mode: { kind: 'delayed', ms: 2 } });
    await new Resolver([cache, bundle, remote]).resolve(view, ['1', '2', '3']);
    expect([...cache.remembered.keys()]).toEqual(['user_stats/2']);
  });

  it('refuses duplicate tier names and the reserved name "default"', () => {
    const a = new TestTier(new Map(), { name: 'a' });
    expect(() => new Resolver([a, new TestTier(new Map(), { name: 'a' })])).toThrow(/unique/);
    expect(() => new Resolver([new TestTier(new Map(), { name: 'default' })])).toThrow(/default/);
  });
});

describe('answers over merged tiers', () => {
  it('a request mixing pushed rows and bundle rows reads each from its own tier, by the value rule', async () => {
    const bundle = await bundleOf(HELD);
    const pushed = new TestTier(testRows({ '2': { eventTsMs: T0, createdTsMs: null, values: [21, null] } }), { name: 'pushed', settles: false });
    const { getOnlineFeatures } = await import('../../src/core/feast/online.js');
    const resolver = new Resolver([pushed, new BundleTier(bundle.data)]);
    const res = await getOnlineFeatures(bundle.catalog, resolver, { features: ['user_stats:clicks', 'user_stats:country'], entities: { user_id: [1, 2, 3, 4] } }, { nowMs: T0 + 1000, rule: { serveStale: false } });
    // 1 from the bundle; 2 pushed (newer than the bundle's), its null country a hole; 3's clicks is null: the default 0; 4 nowhere.
    expect(res.results[1]).toMatchObject({ values: [10, 21, 0, 0], statuses: ['PRESENT', 'PRESENT', 'NULL_VALUE', 'NOT_FOUND'] });
    expect(res.results[2]).toMatchObject({ values: ['NL', null, 'DE', null], statuses: ['PRESENT', 'NULL_VALUE', 'PRESENT', 'NOT_FOUND'] });
  });
});

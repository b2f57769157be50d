/**
 * createApp without a socket (app.request): the body is read from the web
 * stream instead of Node's IncomingMessage, and the limit still holds. A
 * tier that throws (tiers must never throw) is a miss, counted in metrics,
 * never a 500. Also the LRU in front of the bundle, fed by a tier worth
 * caching.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Bundle } from '../../src/core/local-store.js';
import { LruTier } from '../../src/core/resolve/tiers/lru.js';
import type { Row, Tier } from '../../src/core/resolve/tier.js';
import { createApp } from '../../src/sidecar/app.js';
import { Metrics } from '../../src/sidecar/metrics.js';
import { ServingStateHolder } from '../../src/sidecar/serving-state.js';
import { T0, captureLog, shopBundle } from './helpers.js';

let bundle: Bundle;
beforeAll(async () => {
  bundle = await Bundle.decode(await shopBundle(1));
});

function appWith(tiersAfterBundle: Tier[] = [], maxBodyBytes = 1024, lruBytes = 1 << 20) {
  const log = captureLog();
  const clock = { nowMs: T0 };
  const metrics = new Metrics();
  const holder = new ServingStateHolder({ lru: new LruTier(lruBytes), tiersAfterBundle, now: () => clock.nowMs, onTierError: (tier) => metrics.countTierError(tier.name) });
  holder.install(bundle, 'memory');
  const app = createApp({ state: holder, now: () => clock.nowMs, rule: { serveStale: false }, limits: { maxBodyBytes, maxEntities: 100 }, metrics, log });
  return { app, log, holder, clock };
}

const body = JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [1, 42] } });

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(enc.encode(p));
      controller.close();
    },
  });
}

describe('createApp via app.request', () => {
  it('answers from a streamed body', async () => {
    const { app } = appWith();
    const res = await app.request('/get-online-features', { method: 'POST', body: streamOf([body.slice(0, 7), body.slice(7)]), duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: { values: unknown[] }[] }).results[1]!.values).toEqual([10, 0]);
  });

  it('enforces the body limit on a stream without Content-Length', async () => {
    const { app } = appWith([], 100);
    const res = await app.request('/get-online-features', { method: 'POST', body: streamOf([body, ' '.repeat(200)]), duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('LARDER_ERR_BODY_TOO_LARGE');
  });

  it('the tiers after the bundle are consulted for keys the bundle lacks', async () => {
    const seen: string[] = [];
    const recording: Tier = {
      name: 'redis',
      settles: true,
      worthCaching: true,
      lookup(_view, keys, missing) {
        for (const i of missing) seen.push(keys[i]!);
      },
    };
    const { app } = appWith([recording]);
    const res = await app.request('/get-online-features', { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(seen).toEqual(['42']);
    expect(res.headers.get('x-larder-served-by')).toBe('lru=0,bundle=1,redis=0,default=1');
  });

  it('a tier that throws (a bug) is a miss: the key reads as its default, and /metrics counts the failure', async () => {
    const broken: Tier = {
      name: 'redis',
      settles: true,
      worthCaching: true,
      lookup() {
        throw new Error('tier exploded');
      },
    };
    const { app } = appWith([broken]);
    const res = await app.request('/get-online-features', { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-larder-served-by')).toBe('lru=0,bundle=1,redis=0,default=1');
    expect(((await res.json()) as { results: { values: unknown[]; statuses: string[] }[] }).results[1]).toMatchObject({ values: [10, 0], statuses: ['PRESENT', 'NOT_FOUND'] });
    const metrics = await (await app.request('/metrics')).text();
    expect(metrics).toContain('larder_tier_errors_total{tier="redis"} 1');
    expect(metrics).toContain('larder_entities_served_total{tier="default"} 1');
  });
});

/**
 * A stand-in for the Redis tier, which a later release adds: a tier worth
 * caching that holds rows of user_stats in a map and records what it is
 * asked for.
 */
function remoteTier(rows: Record<string, Row>) {
  const asked: string[] = [];
  const tier: Tier = {
    name: 'redis',
    settles: true,
    worthCaching: true,
    lookup(_view, keys, missing, found) {
      for (const i of missing) {
        asked.push(keys[i]!);
        const row = rows[keys[i]!];
        if (row) found[i] = row;
      }
    },
  };
  return { tier, asked };
}

// user_stats features: clicks, ctr, country, last_seen, embedding, tags, vip.
const remoteRow: Row = { eventTsMs: T0, createdTsMs: null, values: [42, 0.5, 'FR', null, null, null, false] };
const user42 = JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [1, 42] } });
type Answer = { results: { values: unknown[]; statuses: string[] }[] };

describe('the LRU in front of the bundle', () => {
  it('keeps rows a remote tier found: the repeat is served by the LRU without asking the tier again', async () => {
    const remote = remoteTier({ '42': remoteRow });
    const { app, holder } = appWith([remote.tier]);
    const first = await app.request('/get-online-features', { method: 'POST', body: user42 });
    expect(first.headers.get('x-larder-served-by')).toBe('lru=0,bundle=1,redis=1,default=0');
    const second = await app.request('/get-online-features', { method: 'POST', body: user42 });
    // User 1 is in the bundle: read from it again, never cached.
    expect(second.headers.get('x-larder-served-by')).toBe('lru=1,bundle=1,redis=0,default=0');
    expect(remote.asked).toEqual(['42']);
    expect(((await second.json()) as Answer).results[1]!.values).toEqual([10, 42]);
    expect(holder.lru.stats().entries).toBe(1);
  });

  it('judges the TTL on read, also for a row the LRU holds', async () => {
    const { app, clock } = appWith([remoteTier({ '42': remoteRow }).tier]);
    await app.request('/get-online-features', { method: 'POST', body: user42 });
    clock.nowMs = T0 + 3_600_000 + 1000; // user_stats has a 1 h TTL
    const later = await app.request('/get-online-features', { method: 'POST', body: user42 });
    expect(later.headers.get('x-larder-served-by')).toBe('lru=1,bundle=1,redis=0,default=0');
    expect(((await later.json()) as Answer).results[1]!.statuses).toEqual(['OUTSIDE_MAX_AGE', 'OUTSIDE_MAX_AGE']);
  });

  it('is cleared when a bundle is swapped in: its rows belonged to the old one', async () => {
    const remote = remoteTier({ '42': remoteRow });
    const { app, holder } = appWith([remote.tier]);
    await app.request('/get-online-features', { method: 'POST', body: user42 });
    holder.install(await Bundle.decode(await shopBundle(2)), 'memory');
    expect(holder.lru.stats().entries).toBe(0);
    const after = await app.request('/get-online-features', { method: 'POST', body: user42 });
    expect(after.headers.get('x-larder-served-by')).toBe('lru=0,bundle=1,redis=1,default=0');
    expect(remote.asked).toEqual(['42', '42']);
  });

  it('with --cache-max-bytes 0 the remote tier is asked every time', async () => {
    const remote = remoteTier({ '42': remoteRow });
    const { app } = appWith([remote.tier], 1024, 0);
    for (let i = 0; i < 3; i++) {
      const res = await app.request('/get-online-features', { method: 'POST', body: user42 });
      expect(res.headers.get('x-larder-served-by')).toBe('lru=0,bundle=1,redis=1,default=0');
    }
    expect(remote.asked).toEqual(['42', '42', '42']);
  });

  it('answers rows of the bundle and of a remote tier side by side, every dtype, as each has them', async () => {
    const { app } = appWith([remoteTier({ '42': remoteRow }).tier]);
    const features = ['user_stats:clicks', 'user_stats:ctr', 'user_stats:country', 'user_stats:last_seen', 'user_stats:embedding', 'user_stats:tags', 'user_stats:vip'];
    // User 42 only the remote tier holds; 3 holds nulls; 99 nobody holds.
    const res = await app.request('/get-online-features', { method: 'POST', body: JSON.stringify({ features, entities: { user_id: [1, 42, 3, 99] } }) });
    expect(res.status).toBe(200);
    const got = (await res.json()) as { results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[] };
    // The same request with 42 absent, answered by the bundle alone.
    const alone = bundle.getOnlineFeatures({ features, entities: { user_id: [1, 4242, 3, 99] } }, { now: new Date(T0) });
    features.forEach((_, f) => {
      const column = got.results[f + 1]!;
      const want = alone.results[f + 1]!;
      for (const i of [0, 2, 3]) {
        expect([column.values[i], column.statuses[i], column.event_timestamps[i]]).toEqual([want.values[i], want.statuses[i], want.event_timestamps[i]]);
      }
      const v = remoteRow.values[f] ?? null;
      expect([column.values[1], column.statuses[1], column.event_timestamps[1]]).toEqual([v, v === null ? 'NULL_VALUE' : 'PRESENT', '2026-01-01T00:00:00Z']);
    });
  });

  it('is left out when no tier behind the bundle is worth caching', async () => {
    const { app, holder } = appWith();
    for (let i = 0; i < 2; i++) {
      const res = await app.request('/get-online-features', { method: 'POST', body: user42 });
      expect(res.headers.get('x-larder-served-by')).toBe('bundle=1,default=1');
    }
    expect(holder.lru.stats()).toEqual({ entries: 0, bytes: 0, hits: 0, misses: 0 });
  });
});

/**
 * Feast's POST /push: the admin token, validation that names row and
 * column and writes nothing, fan-out through the Redis stream to every
 * sidecar on that Redis (within 100 ms), newest-wins against the bundle,
 * after LRU caching and after a restart, and a trimmed stream making the
 * sidecar read pushed views through Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { RedisServer } from '../redis-servers.js';
import { T0, type TestSidecar, removeDir, shopBundle, startTestSidecar, tempDir, writeBundleFile } from './helpers.js';
import { clicksOf, metric, seedUserStats } from './redis-helpers.js';

const TOKEN = 'test-admin-token-0123456789';
let redis: RedisServer;
let dirs: string[] = [];
const sidecars: TestSidecar[] = [];

/** A sidecar on the shared Redis serving shop v1 (as_of an hour ago, so every push here is newer than it). */
async function sidecar(opts: { token?: string } = {}): Promise<TestSidecar> {
  const dir = await tempDir();
  dirs.push(dir);
  await writeBundleFile(dir, await shopBundle(1, { asOf: new Date(Date.now() - 3_600_000) }), bundleFileName('shop', 1));
  const s = await startTestSidecar(dir, { redis: redis.url, redisTimeoutMs: 500, redisNamespace: 'larder', redisCacheTtlMs: 60_000, redisStreamMaxLen: 1000, ...(opts.token ? { adminToken: opts.token } : {}) });
  sidecars.push(s);
  return s;
}

const push = (s: TestSidecar, body: unknown, token: string | null = TOKEN) =>
  fetch(`${s.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

/** A push of user_stats rows: one per id, clicks as given, event time `at`. */
function userStatsPush(rows: { id: number; clicks: number; at: number }[], extra: Record<string, unknown> = {}) {
  return {
    push_source_name: 'user_stats',
    to: 'online',
    df: {
      user_id: rows.map((r) => r.id),
      ts: rows.map((r) => new Date(r.at).toISOString()),
      clicks: rows.map((r) => r.clicks),
      ctr: rows.map(() => 0.5),
      country: rows.map(() => 'PT'),
      last_seen: rows.map(() => '2026-01-01T00:00:00Z'),
      embedding: rows.map(() => [1, null, 2]),
      tags: rows.map(() => ['pushed']),
      vip: rows.map(() => true),
    },
    ...extra,
  };
}

let a: TestSidecar;
let b: TestSidecar;

beforeAll(async () => {
  redis = await RedisServer.start();
  a = await sidecar({ token: TOKEN });
  b = await sidecar();
});

afterAll(async () => {
  for (const s of sidecars) await s.close();
  for (const d of dirs) await removeDir(d);
  await redis.stop();
});

describe('the admin surface', () => {
  it('is off without --admin-token (403), and needs the token as a bearer (401)', async () => {
    const body = userStatsPush([{ id: 1, clicks: 1, at: T0 }]);
    const off = await push(b, body);
    expect(off.status).toBe(403);
    expect(await off.json()).toMatchObject({ error: { code: 'LARDER_ERR_WRITES_OFF' } });
    const none = await push(a, body, null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await push(a, body, 'wrong-token-0123456789')).status).toBe(401);
    expect(await redis.cli('dbsize')).toBe('0');
  });
});

describe('push validation', () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['a missing column', (() => { const p = userStatsPush([{ id: 1, clicks: 1, at: T0 }]); delete (p.df as Record<string, unknown>).clicks; return p; })(), 400, /df lacks column\(s\) "clicks"/],
    ['a value of the wrong type', userStatsPush([{ id: 1, clicks: 1, at: T0 }, { id: 2, clicks: 'many' as unknown as number, at: T0 }]), 400, /row 1, column "clicks": expected an integer within ±2\^53 for int64, got string "many"/],
    ['a bad time', (() => { const p = userStatsPush([{ id: 1, clicks: 1, at: T0 }]); (p.df as Record<string, unknown[]>).ts = ['yesterday']; return p; })(), 400, /row 0, column "ts": expected an ISO 8601 time/],
    ['a bad list element', (() => { const p = userStatsPush([{ id: 1, clicks: 1, at: T0 }]); (p.df as Record<string, unknown[]>).embedding = [[1, 'x']]; return p; })(), 400, /row 0, column "embedding": element 1: expected a number for float32/],
    ['a bad join key', (() => { const p = userStatsPush([{ id: 1, clicks: 1, at: T0 }]); (p.df as Record<string, unknown[]>).user_id = ['1']; return p; })(), 400, /row 0, column "user_id": expected an integer within ±2\^53 for join key "user_id", got string "1"/],
    ['columns of different lengths', (() => { const p = userStatsPush([{ id: 1, clicks: 1, at: T0 }]); (p.df as Record<string, unknown[]>).ctr = [0.1, 0.2]; return p; })(), 400, /df column "ctr" has 2 rows, but column "user_id" has 1/],
    ['an unknown push source', { ...userStatsPush([{ id: 1, clicks: 1, at: T0 }]), push_source_name: 'nope' }, 404, /push_source_name "nope" is neither a served feature view nor a source of one \(known: events, user_product, user_stats\)/],
    ['a bad destination', userStatsPush([{ id: 1, clicks: 1, at: T0 }], { to: 'everywhere' }), 400, /to must be one of "online", "offline", "online_and_offline"/],
    ['offline without --repo', userStatsPush([{ id: 1, clicks: 1, at: T0 }], { to: 'offline' }), 403, /pushes to offline need the feature repo/],
    ['not JSON', 'nope{', 400, /LARDER_ERR_BAD_JSON|JSON/],
  ];
  for (const [what, body, status, message] of cases) {
    it(`refuses ${what} with ${status}, naming it, and writes nothing`, async () => {
      const res = typeof body === 'string'
        ? await fetch(`${a.url}/push`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body })
        : await push(a, body);
      expect(res.status).toBe(status);
      const error = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(`${error.code}: ${error.message}`).toMatch(message);
      expect(await redis.cli('dbsize')).toBe('0');
    });
  }
});

describe('push online, fanned out', () => {
  it('a pushed value is served by both sidecars within 100 ms, and an older push never hides a newer bundle row', async () => {
    expect((await clicksOf(a.post, [1, 3])).clicks).toEqual([10, 30]);
    const res = await push(a, userStatsPush([{ id: 1, clicks: 555, at: T0 + 60_000 }, { id: 3, clicks: 333, at: T0 - 60_000 }]));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    // The time until both sidecars serve a push: measured for this push and
    // two more, and the best of the three must be under 100 ms, so that one
    // scheduling hiccup of a shared machine does not decide the test.
    const fanOutMs = async (clicks: number): Promise<number> => {
      const pushedAt = performance.now();
      const seen = new Map<TestSidecar, number>();
      while (seen.size < 2 && performance.now() - pushedAt < 2000) {
        for (const s of [a, b]) if (!seen.has(s) && (await clicksOf(s.post, [1])).clicks[0] === clicks) seen.set(s, performance.now() - pushedAt);
      }
      expect(seen.size).toBe(2);
      return Math.max(...seen.values());
    };
    const times = [await fanOutMs(555)];
    for (const [i, clicks] of [556, 555].entries()) {
      expect((await push(a, userStatsPush([{ id: 1, clicks, at: T0 + 61_000 + i * 1000 }]))).status).toBe(200);
      times.push(await fanOutMs(clicks));
    }
    expect(Math.min(...times)).toBeLessThan(100);
    // User 3's push is older than the bundle's row (T0): the bundle's stays.
    for (const s of [a, b]) expect((await clicksOf(s.post, [1, 3])).clicks).toEqual([555, 30]);
    const served = await a.post({ features: ['user_stats:country', 'user_stats:embedding'], entities: { user_id: [1] } });
    const body = (await served.json()) as { results: { values: unknown[] }[] };
    expect([body.results[1]!.values[0], body.results[2]!.values[0]]).toEqual(['PT', [1, null, 2]]);
    expect(metric(await (await b.get('/metrics')).text(), 'larder_stream_rows_total{result="applied"}')).toBeGreaterThanOrEqual(2);
  });

  it('a key cached in the LRU from Redis is replaced by a newer push at once', async () => {
    await seedUserStats({ kind: 'standalone', url: redis.url }, [700]);
    expect((await clicksOf(b.post, [700])).clicks).toEqual([700]);
    expect((await clicksOf(b.post, [700])).servedBy).toMatch(/^lru=1/);
    expect((await push(a, userStatsPush([{ id: 700, clicks: 7001, at: T0 + 60_000 }]))).status).toBe(200);
    const pushedAt = performance.now();
    while ((await clicksOf(b.post, [700])).clicks[0] !== 7001 && performance.now() - pushedAt < 2000);
    // Prompt, not at the LRU's expiry (--redis-cache-ttl-ms, 30 s here); the
    // 100 ms fan-out bound is asserted above.
    expect(performance.now() - pushedAt).toBeLessThan(1000);
  });

  it('a restarted sidecar replays the stream: the pushed value, not its bundle\'s older one', async () => {
    const c = await sidecar();
    await new Promise((r) => setTimeout(r, 100));
    expect((await clicksOf(c.post, [1, 700])).clicks).toEqual([555, 7001]);
  });

  it('when the stream was trimmed past pushes, the pushed views are read through Redis for every key, and /metrics says so', async () => {
    await redis.cli('xtrim', 'larder:{shop}:changes', 'MAXLEN', '0');
    const d = await sidecar();
    await new Promise((r) => setTimeout(r, 200));
    const m = await (await d.get('/metrics')).text();
    expect(metric(m, 'larder_stream_view_read_through_redis{view="user_stats"}')).toBe(1);
    expect(metric(m, 'larder_stream_gaps_total')).toBe(1);
    // User 1: the bundle holds clicks 10 at T0, Redis the pushed 555 at T0 + 1 min: Redis is asked, and the newer row wins.
    const r = await clicksOf(d.post, [1, 3]);
    expect(r.clicks).toEqual([555, 30]);
    expect(r.servedBy).toBe('lru=0,pushed=0,bundle=1,redis=1,default=0');
    // user_product was never pushed: its bundle rows still settle.
    expect(metric(m, 'larder_stream_view_read_through_redis{view="user_product"}')).toBeUndefined();
  });
});

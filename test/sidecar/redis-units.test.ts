/**
 * The small parts of the Redis store on their own: the circuit breaker's
 * states, the pushed-rows overlay (newest wins, bounded, another layout's
 * rows hidden), the key layout (hash tags per view and bucket) and option
 * checks of Redis targets.
 */
import { describe, expect, it } from 'vitest';
import type { ViewSpec } from '../../src/core/resolve/tier.js';
import { Breaker } from '../../src/sidecar/redis/breaker.js';
import { type DeadlineEntry, DeadlineList } from '../../src/sidecar/redis/deadlines.js';
import { parseClusterSeeds, redisTargetOf } from '../../src/sidecar/redis/connection.js';
import { KEY_BUCKETS, ViewKeys } from '../../src/sidecar/redis/keys.js';
import { PushedRows } from '../../src/sidecar/stream/overlay.js';
import { LruTier } from '../../src/core/resolve/tiers/lru.js';
import { RowValueCodec } from '../../src/core/bundle/row-value.js';

describe('Breaker', () => {
  it('opens after N failures in a row, refuses for openMs, then lets one probe through; its success closes it', () => {
    let now = 0;
    const states: string[] = [];
    const b = new Breaker({ failures: 3, openMs: 100, now: () => now, onChange: (s) => states.push(s) });
    b.failure();
    b.failure();
    b.success(); // the count restarts
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    now = 100;
    expect(b.allow()).toBe(true); // the probe
    expect(b.allow()).toBe(false); // one at a time
    b.failure();
    expect(b.state).toBe('open');
    now = 150;
    expect(b.allow()).toBe(false);
    now = 200;
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    expect(b.opened).toBe(2);
  });
});

describe('DeadlineList', () => {
  const entry = (name: string, expired: { name: string; at: number }[]): DeadlineEntry => ({
    deadlineMs: 0,
    prevEntry: undefined,
    nextEntry: undefined,
    listed: false,
    expire: () => expired.push({ name, at: performance.now() }),
  });

  it('expires each entry still listed at its own deadline, never before, and none that was removed', async () => {
    const list = new DeadlineList(40);
    const expired: { name: string; at: number }[] = [];
    const a = entry('a', expired);
    const b = entry('b', expired);
    const c = entry('c', expired);
    const d = entry('d', expired);
    list.add(a);
    await new Promise((r) => setTimeout(r, 15));
    list.add(b);
    list.add(c);
    list.add(d);
    // Removed from the head, the middle and the tail: they never expire.
    list.remove(a);
    list.remove(c);
    list.remove(d);
    list.remove(d); // twice is harmless
    expect([a.listed, b.listed, c.listed, d.listed]).toEqual([false, true, false, false]);
    await new Promise((r) => setTimeout(r, 150));
    expect(expired.map((e) => e.name)).toEqual(['b']);
    expect(expired[0]!.at).toBeGreaterThanOrEqual(b.deadlineMs);
    expect(b.listed).toBe(false);
    // The list works on once empty: a new entry gets its own deadline.
    const e = entry('e', expired);
    list.add(e);
    await new Promise((r) => setTimeout(r, 150));
    expect(expired.map((x) => x.name)).toEqual(['b', 'e']);
    expect(expired[1]!.at).toBeGreaterThanOrEqual(e.deadlineMs);
  });

  it('expires entries in the order they were added, an entry added by an expire included', async () => {
    const list = new DeadlineList(20);
    const expired: { name: string; at: number }[] = [];
    const later = entry('later', expired);
    const first: DeadlineEntry = { ...entry('first', expired), expire: () => (expired.push({ name: 'first', at: performance.now() }), list.add(later)) };
    list.add(first);
    list.add(entry('second', expired));
    await new Promise((r) => setTimeout(r, 120));
    expect(expired.map((x) => x.name)).toEqual(['first', 'second', 'later']);
  });
});

const view = (features: ViewSpec['features']): ViewSpec => ({ name: 'v', def: { name: 'v', entities: [], source: 's', ttlSeconds: 0, features: [...features] }, features, featureIndex: new Map(), joinKeys: [], ttlSeconds: 0 });

describe('PushedRows', () => {
  it('keeps the newest pushed row of a key, does not settle it, and hides rows decoded under another definition of the view', () => {
    const spec = view([{ name: 'a', dtype: 'int64' }]);
    const layout = new RowValueCodec(spec.features).fingerprint;
    const rows = new PushedRows(10);
    expect(rows.settles).toBe(false);
    expect(rows.apply('v', layout, '1', { eventTsMs: 10, createdTsMs: null, values: [1] }, 0)).toBe(true);
    expect(rows.apply('v', layout, '1', { eventTsMs: 5, createdTsMs: null, values: [0] }, 1)).toBe(false);
    expect(rows.apply('v', layout, '1', { eventTsMs: 10, createdTsMs: 3, values: [2] }, 2)).toBe(true);
    const found: unknown[] = [undefined, undefined];
    rows.lookup(spec, ['1', '2'], [0, 1], found as never);
    expect(found).toEqual([{ eventTsMs: 10, createdTsMs: 3, values: [2] }, undefined]);
    // The view's features changed in a newer bundle: the old row is not its row.
    const changed = view([{ name: 'a', dtype: 'float64' }]);
    expect(rows.get(changed, '1')).toBeUndefined();
    expect(rows.get(spec, '1')?.values).toEqual([2]);
    rows.retain(() => new RowValueCodec(changed.features).fingerprint);
    expect(rows.size).toBe(0);
  });

  it('drops the row pushed longest ago past its bound, and says which view', () => {
    const dropped: [string, number][] = [];
    const rows = new PushedRows(2, (v, at) => dropped.push([v, at]));
    rows.apply('a', 'L', '1', { eventTsMs: 1, createdTsMs: null, values: [] }, 100);
    rows.apply('b', 'L', '1', { eventTsMs: 1, createdTsMs: null, values: [] }, 200);
    rows.apply('a', 'L', '1', { eventTsMs: 2, createdTsMs: null, values: [] }, 300); // moves a/1 to the end
    rows.apply('c', 'L', '1', { eventTsMs: 1, createdTsMs: null, values: [] }, 400);
    expect(dropped).toEqual([['b', 200]]);
    expect(rows.size).toBe(2);
  });
});

describe('LruTier with a time bound', () => {
  it('forgets a row after ttlMs, and on request', async () => {
    const lru = new LruTier(1 << 20, 50);
    const spec = view([{ name: 'a', dtype: 'int64' }]);
    const row = { eventTsMs: 1, createdTsMs: null, values: [1] };
    lru.remember(spec, '1', row);
    lru.remember(spec, '2', row);
    const found = (key: string) => {
      const out: unknown[] = [undefined];
      lru.lookup(spec, [key], [0], out as never);
      return out[0];
    };
    expect(found('1')).toBe(row);
    lru.forget('v', '2');
    expect(found('2')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 80));
    expect(found('1')).toBeUndefined();
  });
});

describe('key layout', () => {
  it('tags each key with its view and bucket, spreading a view over KEY_BUCKETS slots', () => {
    const keys = new ViewKeys('larder', 'shop', 'user_stats', '0123abcd');
    expect(keys.key('1001')).toMatch(/^larder:\{shop:user_stats:0123abcd:[0-9a-f]{2}\}:1001$/);
    const buckets = new Set(Array.from({ length: 1000 }, (_, i) => keys.bucket(String(i))));
    expect(buckets.size).toBe(KEY_BUCKETS);
  });

  it('reads Redis targets from the flags', () => {
    expect(redisTargetOf('redis://:pw@h:6380/1', undefined)).toEqual({ kind: 'standalone', url: 'redis://:pw@h:6380/1' });
    expect(redisTargetOf('redis://h', 'h:1')).toEqual({ invalid: 'give --redis or --redis-cluster, not both' });
    expect(redisTargetOf(undefined, undefined)).toBeUndefined();
    expect(parseClusterSeeds('a:7000, rediss://:secret@b:7001')).toEqual({ kind: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }], tls: true, password: 'secret' });
    expect(parseClusterSeeds('a')).toEqual({ invalid: 'seed "a" is not host:port' });
  });
});

/**
 * Row writes to a real redis-server and a real 3-master Redis Cluster, by
 * script alone (push) and MSETNX first (materialize): the newest row wins
 * by event time, then created time (none ranks lowest), an equal row is
 * replaced, a key written twice in one write keeps its newest row, a ttl
 * is set on every key written, and a Redis that lost the script (SCRIPT
 * FLUSH, a restart) is sent it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RowValueCodec } from '../../src/core/bundle/row-value.js';
import type { FeatureDef } from '../../src/core/repo/types.js';
import { type RedisClient, type RedisTarget, closeRedis, connectRedis, waitReady } from '../../src/sidecar/redis/connection.js';
import { ViewKeys } from '../../src/sidecar/redis/keys.js';
import { ABSENT_PAUSE_CALLS, MAX_KEYS_PER_CALL, RowWriter, writeRows } from '../../src/sidecar/redis/rows.js';
import { RedisCluster, RedisServer } from '../redis-servers.js';

const FEATURES: FeatureDef[] = [{ name: 'tag', dtype: 'string' }, { name: 'n', dtype: 'int64' }];
const codec = new RowValueCodec(FEATURES);

interface Row {
  key: string;
  event: number;
  created: number | null;
  tag: string;
}

let server: RedisServer;
let cluster: RedisCluster;
const clients: RedisClient[] = [];
let views = 0;

beforeAll(async () => {
  [server, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start()]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) closeRedis(c);
  await server?.stop();
  await cluster?.stop();
});

async function client(target: RedisTarget): Promise<RedisClient> {
  const c = connectRedis(target, { commandTimeoutMs: 10_000, name: 'writes-test' });
  clients.push(c);
  await waitReady(c, target, 10_000);
  return c;
}

const TARGETS: { name: string; target: () => RedisTarget; nodes: () => RedisServer[] }[] = [
  { name: 'redis-server', target: () => ({ kind: 'standalone', url: server.url }), nodes: () => [server] },
  { name: 'Redis Cluster', target: () => ({ kind: 'cluster', nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), tls: false }), nodes: () => cluster.nodes },
];
const MODES = [{ mode: 'script alone', absentFirst: false }, { mode: 'MSETNX first', absentFirst: true }];

const packed = (rows: Row[]) => codec.encodePacked(rows.map((r) => r.key), rows.map((r) => r.event), rows.map((r) => r.created), [rows.map((r) => r.tag), rows.map((_, i) => i)]);

/** What Redis holds for each key: its row's tag, event and created time, or null. */
async function stored(c: RedisClient, keys: ViewKeys, entityKeys: string[]): Promise<({ tag: unknown; event: number; created: number | null } | null)[]> {
  const out = [];
  for (const k of entityKeys) {
    const v = await c.getBuffer(keys.key(k));
    if (!v) out.push(null);
    else {
      const d = codec.decode(v);
      expect(d.key).toBe(k);
      out.push({ tag: d.values[0], event: d.eventTsMs, created: d.createdTsMs });
    }
  }
  return out;
}

/** Calls of a command so far, summed over `nodes`. */
async function calls(nodes: RedisServer[], command: string): Promise<number> {
  let n = 0;
  for (const node of nodes) n += Number(/calls=(\d+)/.exec((await node.cli('info', 'commandstats')).split('\n').find((l) => l.startsWith(`cmdstat_${command}:`)) ?? '')?.[1] ?? 0);
  return n;
}

describe.each(TARGETS)('row writes to a $name', ({ target, nodes }) => {
  describe.each(MODES)('$mode', ({ absentFirst }) => {
    const viewKeys = () => new ViewKeys('w', 'p', `v${++views}`, codec.fingerprint);

    it('keeps the newest row: by event time, then created time (none lowest); an equal row replaces', async () => {
      const c = await client(target());
      const keys = viewKeys();
      const first: Row[] = [
        { key: 'newer event', event: 10, created: null, tag: 'first' },
        { key: 'older event', event: 10, created: null, tag: 'first' },
        { key: 'newer created', event: 10, created: 5, tag: 'first' },
        { key: 'older created', event: 10, created: 5, tag: 'first' },
        { key: 'created over none', event: 10, created: null, tag: 'first' },
        { key: 'none under created', event: 10, created: 5, tag: 'first' },
        { key: 'equal, no created', event: 10, created: null, tag: 'first' },
        { key: 'equal, created', event: 10, created: 5, tag: 'first' },
      ];
      const second: Row[] = [
        { key: 'newer event', event: 11, created: null, tag: 'second' },
        { key: 'older event', event: 9, created: 99, tag: 'second' },
        { key: 'newer created', event: 10, created: 6, tag: 'second' },
        { key: 'older created', event: 10, created: 4, tag: 'second' },
        { key: 'created over none', event: 10, created: 1, tag: 'second' },
        { key: 'none under created', event: 10, created: null, tag: 'second' },
        { key: 'equal, no created', event: 10, created: null, tag: 'second' },
        { key: 'equal, created', event: 10, created: 5, tag: 'second' },
        { key: 'absent', event: 1, created: null, tag: 'second' },
      ];
      const writer = new RowWriter(c, keys, { absentFirst });
      expect(await writer.write(first.map((r) => r.key), packed(first))).toEqual({ written: 8, kept: 0 });
      expect(await writer.write(second.map((r) => r.key), packed(second))).toEqual({ written: 6, kept: 3 });
      const got = await stored(c, keys, second.map((r) => r.key));
      expect(Object.fromEntries(second.map((r, i) => [r.key, got[i]!.tag]))).toEqual({
        'newer event': 'second', 'older event': 'first', 'newer created': 'second', 'older created': 'first', 'created over none': 'second',
        'none under created': 'first', 'equal, no created': 'second', 'equal, created': 'second', absent: 'second',
      });
      expect(got[2]).toEqual({ tag: 'second', event: 10, created: 6 });
      expect(got[5]).toEqual({ tag: 'first', event: 10, created: 5 });
    });

    it('writes thousands of keys over many calls, some present with newer or older rows, the rest absent', async () => {
      const c = await client(target());
      const keys = viewKeys();
      const n = 4 * MAX_KEYS_PER_CALL + 17;
      const ids = Array.from({ length: n }, (_, i) => `u${i}`);
      // Every 7th key already holds a newer row, every 5th an older one.
      const before: Row[] = ids.flatMap((key, i) => (i % 7 === 0 ? [{ key, event: 200, created: null, tag: 'stored newer' }] : i % 5 === 0 ? [{ key, event: 50, created: null, tag: 'stored older' }] : []));
      await writeRows(c, keys, before.map((r) => r.key), packed(before));
      const rows: Row[] = ids.map((key) => ({ key, event: 100, created: null, tag: 'written' }));
      const newer = ids.filter((_, i) => i % 7 === 0).length;
      expect(await new RowWriter(c, keys, { absentFirst }).write(ids, packed(rows))).toEqual({ written: n - newer, kept: newer });
      const got = await stored(c, keys, ids);
      ids.forEach((_, i) => expect(got[i]!.tag).toBe(i % 7 === 0 ? 'stored newer' : 'written'));
    });

    it('a key given more than once in a write keeps its newest row', async () => {
      const c = await client(target());
      const keys = viewKeys();
      const rows: Row[] = [
        { key: 'k', event: 2, created: null, tag: 'a' },
        { key: 'other', event: 1, created: null, tag: 'o' },
        { key: 'k', event: 3, created: null, tag: 'b' },
        { key: 'k', event: 1, created: null, tag: 'c' },
        { key: 'k', event: 3, created: null, tag: 'd' },
      ];
      expect(await new RowWriter(c, keys, { absentFirst }).write(rows.map((r) => r.key), packed(rows))).toEqual({ written: 4, kept: 1 });
      expect((await stored(c, keys, ['k', 'other'])).map((r) => r?.tag)).toEqual(['d', 'o']);
    });

    it('with a ttl, every key written expires, and an older row leaves the key as it was', async () => {
      const c = await client(target());
      const keys = viewKeys();
      const rows: Row[] = Array.from({ length: 40 }, (_, i) => ({ key: `t${i}`, event: 10, created: null, tag: 'ttl' }));
      const writer = new RowWriter(c, keys, { absentFirst, ttlMs: 60_000 });
      expect(await writer.write(rows.map((r) => r.key), packed(rows))).toEqual({ written: 40, kept: 0 });
      for (const r of rows) {
        const pttl = await c.pttl(keys.key(r.key));
        expect(pttl).toBeGreaterThan(50_000);
        expect(pttl).toBeLessThanOrEqual(60_000);
      }
      await c.persist(keys.key('t0'));
      const older = [{ key: 't0', event: 9, created: null, tag: 'older' }];
      expect(await writer.write(['t0'], packed(older))).toEqual({ written: 0, kept: 1 });
      expect(await c.pttl(keys.key('t0'))).toBe(-1);
    });

    it('sends the script again to a Redis that lost it', async () => {
      const c = await client(target());
      const keys = viewKeys();
      const writer = new RowWriter(c, keys, { absentFirst });
      const one = (tag: string, event: number): Row[] => [{ key: 'x', event, created: null, tag }, { key: 'y', event, created: null, tag }];
      await writer.write(['x', 'y'], packed(one('a', 1)));
      for (const node of nodes()) await node.cli('script', 'flush');
      expect(await writer.write(['x', 'y'], packed(one('b', 2)))).toEqual({ written: 2, kept: 0 });
      expect((await stored(c, keys, ['x', 'y'])).map((r) => r?.tag)).toEqual(['b', 'b']);
    });
  });

  it('MSETNX first stores absent keys without running the script; after meeting present keys, the script alone for a while, then MSETNX again', async () => {
    const c = await client(target());
    const keys = new ViewKeys('w', 'p', `v${++views}`, codec.fingerprint);
    const writer = new RowWriter(c, keys, { absentFirst: true });
    const rowsOf = (ids: string[]): Row[] => ids.map((key) => ({ key, event: 1, created: null, tag: 'v' }));
    const count = async () => ({ msetnx: await calls(nodes(), 'msetnx'), evalsha: await calls(nodes(), 'evalsha') });
    const absent = Array.from({ length: 3 * MAX_KEYS_PER_CALL }, (_, i) => `a${i}`);
    let before = await count();
    expect(await writer.write(absent, packed(rowsOf(absent)))).toEqual({ written: absent.length, kept: 0 });
    let after = await count();
    expect(after.msetnx).toBeGreaterThan(before.msetnx);
    expect(after.evalsha).toBe(before.evalsha);
    // Present keys: MSETNX stores nothing, the script writes them, and the next calls go by script alone.
    expect(await writer.write(absent.slice(0, 10), packed(rowsOf(absent.slice(0, 10))))).toEqual({ written: 10, kept: 0 });
    before = await count();
    // Ten keys of one bucket: one call a write, on a cluster too.
    const more = (w: number) => {
      const out: string[] = [];
      for (let i = 0; out.length < 10; i++) if (keys.bucket(`b${w}-${i}`) === 0) out.push(`b${w}-${i}`);
      return out;
    };
    for (let w = 0; w < ABSENT_PAUSE_CALLS - 1; w++) await writer.write(more(w), packed(rowsOf(more(w))));
    after = await count();
    expect(after.msetnx).toBe(before.msetnx);
    expect(after.evalsha).toBe(before.evalsha + ABSENT_PAUSE_CALLS - 1);
    // Past the pause, MSETNX again.
    for (let w = ABSENT_PAUSE_CALLS; w < ABSENT_PAUSE_CALLS + 20; w++) await writer.write(more(w), packed(rowsOf(more(w))));
    expect((await count()).msetnx).toBeGreaterThan(after.msetnx);
    expect((await stored(c, keys, [...more(0), ...more(ABSENT_PAUSE_CALLS + 19)])).every((r) => r?.tag === 'v')).toBe(true);
  });
});

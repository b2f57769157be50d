/**
 * Materialize, end to end: real Parquet files, a real redis-server, then
 * every key read back through a real sidecar whose bundle holds no keys.
 * The expected answers are computed here from the rows written, by the
 * as-of rule as the README states it, independently of larder's code; a
 * sidecar serving a full bundle of the same data must answer the same.
 * Then an incremental materialize (`larder materialize --since`, the CLI)
 * writes only the keys whose rows changed.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../bundle-builder/build.js';
import { materialize } from '../../bundle-builder/materialize.js';
import { RowValueCodec } from '../../src/core/bundle/row-value.js';
import type { FeatureDef } from '../../src/core/repo/types.js';
import { closeRedis, connectRedis, waitReady } from '../../src/sidecar/redis/connection.js';
import { ViewKeys } from '../../src/sidecar/redis/keys.js';
import { writeRows } from '../../src/sidecar/redis/rows.js';
import { RedisServer } from '../redis-servers.js';
import { type TestSidecar, startTestSidecar } from '../sidecar/helpers.js';
import { redisOptions } from '../sidecar/redis-helpers.js';
import { DataFiles, feastTime, removeTempDirs, tempDir, writeConfig } from './helpers.js';

const CLI = join(resolve(import.meta.dirname, '../..'), 'dist', 'src', 'cli.js');
const exec = promisify(execFile);

const HOUR = 3_600_000;
const AS_OF = Date.parse('2026-03-01T12:00:00Z');
const NOW = AS_OF + 30 * 60_000;
const TTL_S = 3 * 3600;

interface SourceRow {
  user_id: number;
  ts: number;
  created: number | null;
  clicks: number | null;
  ctr: number | null;
  country: string | null;
  vip: boolean | null;
  tags: (string | null)[] | null;
  emb: (number | null)[] | null;
}

const FEATURES = [
  { name: 'clicks', dtype: 'int64', default: -1 },
  { name: 'ctr', dtype: 'float32' },
  { name: 'country', dtype: 'string', default: 'none' },
  { name: 'vip', dtype: 'bool' },
  { name: 'tags', dtype: 'string[]' },
  { name: 'emb', dtype: 'float32[]' },
] as const;
const SCHEMA = { user_id: 'BIGINT', ts: 'TIMESTAMP', created: 'TIMESTAMP', clicks: 'BIGINT', ctr: 'FLOAT', country: 'VARCHAR', vip: 'BOOLEAN', tags: 'VARCHAR[]', emb: 'FLOAT[]' };

/** A small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** 80 users, 1-4 rows each around AS_OF: future rows, stale rows, equal event times told apart by created time, nulls. */
function sourceRows(): SourceRow[] {
  const r = rng(7);
  const rows: SourceRow[] = [];
  for (let u = 1; u <= 80; u++) {
    const n = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) {
      const ts = AS_OF - Math.floor(r() * 8) * HOUR + (r() < 0.2 ? 2 * HOUR : 0);
      rows.push({
        user_id: u,
        ts,
        // Created no later than the event: an incremental run keyed on created time then sees only rows added later.
        created: r() < 0.2 ? null : ts - Math.floor(r() * 5) * 1000,
        clicks: r() < 0.1 ? null : Math.floor(r() * 1000),
        ctr: r() < 0.1 ? null : Math.floor(r() * 64) / 8,
        country: r() < 0.1 ? null : ['NL', 'DE', 'Zürich ✓'][Math.floor(r() * 3)]!,
        vip: r() < 0.1 ? null : r() < 0.5,
        tags: r() < 0.1 ? null : r() < 0.2 ? ['a', null] : ['x', 'y'].slice(0, Math.floor(r() * 3)),
        emb: r() < 0.1 ? null : r() < 0.2 ? [0.5, null] : [Math.floor(r() * 16) / 4, -1],
      });
    }
  }
  return rows;
}

/**
 * The expected answer for each user at NOW, by the README's rule: the
 * visible row (ts <= as_of) with the greatest ts, then the greatest created
 * (none ranks lowest), then the last in file order; stale after the TTL;
 * every hole reads as the feature's default (null without one).
 */
function expected(rows: SourceRow[], users: number[]): Map<string, { values: unknown[]; statuses: string[]; stamps: string[] }> {
  const out = new Map<string, { values: unknown[]; statuses: string[]; stamps: string[] }>();
  for (const f of FEATURES) out.set(f.name, { values: [], statuses: [], stamps: [] });
  for (const u of users) {
    let best: SourceRow | undefined;
    for (const row of rows) {
      if (row.user_id !== u || row.ts > AS_OF) continue;
      if (!best || row.ts > best.ts || (row.ts === best.ts && (row.created ?? -Infinity) >= (best.created ?? -Infinity))) best = row;
    }
    for (const f of FEATURES) {
      const col = out.get(f.name)!;
      const def = 'default' in f ? f.default : null;
      if (!best) {
        col.values.push(def);
        col.statuses.push('NOT_FOUND');
        col.stamps.push('1970-01-01T00:00:00Z');
        continue;
      }
      const v = best[f.name];
      const stale = NOW - best.ts > TTL_S * 1000;
      const status = stale ? 'OUTSIDE_MAX_AGE' : v === null ? 'NULL_VALUE' : 'PRESENT';
      col.values.push(status === 'PRESENT' ? v : def);
      col.statuses.push(status);
      col.stamps.push(feastTime(best.ts));
    }
  }
  return out;
}

const data = { files: undefined as DataFiles | undefined };
let redis: RedisServer;
let repoDir: string;
const rows = sourceRows();
const started: TestSidecar[] = [];

beforeAll(async () => {
  data.files = await DataFiles.open();
  redis = await RedisServer.start();
  repoDir = await tempDir();
  await data.files.write(join(repoDir, 'data', 'stats', 'part-0.parquet'), SCHEMA, rows.map((r) => [r.user_id, new Date(r.ts), r.created === null ? null : new Date(r.created), r.clicks, r.ctr, r.country, r.vip, r.tags, r.emb]));
  await writeConfig(repoDir, {
    project: 'mat',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: [{ name: 'stats', path: 'data/stats/*.parquet', timestampField: 'ts', createdTimestampField: 'created' }],
    featureViews: [{ name: 'user_stats', entities: ['user'], source: 'stats', ttlSeconds: TTL_S, features: FEATURES }],
    featureServices: [],
  });
});

afterAll(async () => {
  for (const s of started) await s.close();
  data.files?.close();
  await redis.stop();
  await removeTempDirs();
});

const request = (users: number[]) => ({ features: FEATURES.map((f) => `user_stats:${f.name}`), entities: { user_id: users } });
const USERS = [...Array.from({ length: 80 }, (_, i) => i + 1), 999];

async function answer(s: TestSidecar, users: number[]) {
  const res = await s.post(request(users));
  expect(res.status).toBe(200);
  return { body: (await res.json()) as { results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[] }, servedBy: res.headers.get('x-larder-served-by') };
}

describe('materialize', () => {
  it('writes every key; a sidecar whose bundle holds none reads back the as-of values, as computed here and as a full bundle answers them', async () => {
    const empty = join(repoDir, 'empty-bundles');
    const full = join(repoDir, 'full-bundles');
    await mkdir(empty);
    await mkdir(full);
    await buildBundle({ repoDir, outDir: empty, asOf: new Date(AS_OF), hotLimit: 0, threads: 1 });
    await buildBundle({ repoDir, outDir: full, asOf: new Date(AS_OF), threads: 1 });
    const result = await materialize({ repoDir, redis: { kind: 'standalone', url: redis.url }, asOf: new Date(AS_OF), threads: 1 });
    const keys = new Set(rows.filter((r) => r.ts <= AS_OF).map((r) => r.user_id)).size;
    expect(result.views).toEqual([{ name: 'user_stats', keys, written: keys, kept: 0, ties: expect.any(Number) }]);

    const viaRedis = await startTestSidecar(empty, redisOptions(redis.url, { redisTimeoutMs: 1000 }), NOW);
    const viaBundle = await startTestSidecar(full, {}, NOW);
    started.push(viaRedis, viaBundle);
    const fromRedis = await answer(viaRedis, USERS);
    expect(fromRedis.servedBy).toBe(`lru=0,pushed=0,bundle=0,redis=${keys},default=${USERS.length - keys}`);
    const want = expected(rows, USERS);
    FEATURES.forEach((f, i) => {
      const got = fromRedis.body.results[i + 1]!;
      expect({ feature: f.name, values: got.values, statuses: got.statuses, stamps: got.event_timestamps }).toEqual({ feature: f.name, values: want.get(f.name)!.values, statuses: want.get(f.name)!.statuses, stamps: want.get(f.name)!.stamps });
    });
    expect(fromRedis.body).toEqual((await answer(viaBundle, USERS)).body);
    // Stale rows were written too: they read OUTSIDE_MAX_AGE, not NOT_FOUND.
    expect(fromRedis.body.results[1]!.statuses).toContain('OUTSIDE_MAX_AGE');
  });

  it('--since writes only the keys whose rows changed, and says how many (the CLI)', async () => {
    // Generated rows sit on whole hours: none falls in (AS_OF, later] but these.
    const later = AS_OF + 30 * 60_000;
    // New rows for users 5, 6 and 7, after the first as_of.
    const fresh = [5, 6, 7].map((u) => [u, new Date(later - 60_000), new Date(later - 60_000), 10_000 + u, 1.5, 'PT', true, ['new'], [1, 2]]);
    await data.files!.write(join(repoDir, 'data', 'stats', 'part-1.parquet'), SCHEMA, fresh);
    // A key that did not change, removed from Redis: an incremental run must not write it back.
    const untouched = (await redis.cli('--scan', '--pattern', '*:9')).split('\n').filter((k) => k.endsWith('}:9'));
    expect(untouched).toHaveLength(1);
    await redis.cli('del', untouched[0]!);
    const run = await exec(process.execPath, [CLI, 'materialize', repoDir, '--as-of', new Date(later).toISOString(), '--since', new Date(AS_OF).toISOString(), '--threads', '1'], { env: { ...process.env, LARDER_REDIS: redis.url } });
    expect(run.stdout, run.stdout).toMatch(/user_stats\s+3\s+3\s+0/);
    expect(run.stdout).toContain('wrote:    3 keys');
    expect(await redis.cli('exists', untouched[0]!)).toBe('0');
    // A fresh sidecar (the first one keeps what it read in its LRU for --redis-cache-ttl-ms).
    const s = await startTestSidecar(join(repoDir, 'empty-bundles'), redisOptions(redis.url, { redisTimeoutMs: 1000 }), NOW);
    started.push(s);
    const got = await answer(s, [5, 6, 7]);
    expect(got.body.results[1]!.values).toEqual([10_005, 10_006, 10_007]);
  });

  it('--key-ttl lets the written keys expire (opt-in; off by default)', async () => {
    await materialize({ repoDir, redis: { kind: 'standalone', url: redis.url }, namespace: 'ttl', asOf: new Date(AS_OF), keyTtlSeconds: 60, threads: 1 });
    const key = (await redis.cli('--scan', '--pattern', 'ttl:*')).split('\n')[0]!;
    const pttl = Number(await redis.cli('pttl', key));
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    const plain = (await redis.cli('--scan', '--pattern', 'larder:*')).split('\n')[0]!;
    expect(await redis.cli('pttl', plain)).toBe('-1');
  });

  it('streams thousands of keys in batches: every value as encoded here, and a second run keeps a newer pushed row', async () => {
    const dir = await tempDir();
    const T = Date.parse('2026-02-01T00:00:00Z');
    const users = Array.from({ length: 5000 }, (_, i) => i + 1);
    const row = (u: number) => [u, new Date(T + u), u % 11 === 0 ? null : u * 3, u % 13 === 0 ? null : u % 2 ? `s${u % 7}` : `ü${u % 5}`, u / 4];
    await data.files!.write(join(dir, 'data', 'big.parquet'), { user_id: 'BIGINT', ts: 'TIMESTAMP', n: 'BIGINT', s: 'VARCHAR', f: 'FLOAT' }, users.map(row));
    const features: FeatureDef[] = [{ name: 'n', dtype: 'int64' }, { name: 's', dtype: 'string' }, { name: 'f', dtype: 'float32' }];
    await writeConfig(dir, {
      project: 'big',
      entities: [{ name: 'user', joinKeys: ['user_id'] }],
      sources: [{ name: 'big', path: 'data/big.parquet', timestampField: 'ts' }],
      featureViews: [{ name: 'v', entities: ['user'], source: 'big', ttlSeconds: 0, features }],
      featureServices: [],
    });
    const run = () => materialize({ repoDir: dir, redis: { kind: 'standalone', url: redis.url }, namespace: 'big', asOf: new Date(T + 86_400_000), threads: 1, batchRows: 1000 });
    expect((await run()).views).toEqual([{ name: 'v', keys: 5000, written: 5000, kept: 0, ties: 0 }]);
    const codec = new RowValueCodec(features);
    const keys = new ViewKeys('big', 'big', 'v', codec.fingerprint);
    const client = connectRedis({ kind: 'standalone', url: redis.url }, { commandTimeoutMs: 5000, name: 'test' });
    try {
      await waitReady(client, { kind: 'standalone', url: redis.url }, 5000);
      const read = async () => {
        const out = [];
        for (let i = 0; i < users.length; i += 500) out.push(...(await client.mgetBuffer(users.slice(i, i + 500).map((u) => keys.key(String(u))))));
        return out.map((v) => (v ? codec.decode(v) : null));
      };
      const expected = (u: number) => {
        const [, , n, s, f] = row(u);
        return { key: String(u), eventTsMs: T + u, createdTsMs: null, values: [n, s, Math.fround(f as number)] };
      };
      expect(await read()).toEqual(users.map(expected));
      // A newer row for user 42 (as a push writes it); the next materialize keeps it and replaces the rest with equal rows.
      const pushed = codec.encodePacked(['42'], [T + 3_600_000], undefined, [[-1], ['pushed'], [0]]);
      await writeRows(client, keys, ['42'], pushed);
      expect((await run()).views).toEqual([{ name: 'v', keys: 5000, written: 4999, kept: 1, ties: 0 }]);
      expect(await read()).toEqual(users.map((u) => (u === 42 ? { key: '42', eventTsMs: T + 3_600_000, createdTsMs: null, values: [-1, 'pushed', 0] } : expected(u))));
    } finally {
      closeRedis(client);
    }
  });

  it('refuses bad options with exit code 2 and an unreachable Redis with 1, naming it', async () => {
    const bad = await exec(process.execPath, [CLI, 'materialize', repoDir, '--redis', 'http://x'], { env: process.env }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('LARDER_ERR_OPTION: --redis (LARDER_REDIS) must start with redis:// or rediss://') });
    const down = await exec(process.execPath, [CLI, 'materialize', repoDir, '--redis', 'redis://127.0.0.1:1'], { env: process.env }).catch((e: { code: number; stderr: string }) => e);
    expect(down).toMatchObject({ code: 1, stderr: expect.stringContaining('LARDER_ERR_REDIS: cannot reach redis://127.0.0.1:1') });
  });
});

/**
 * The bundles the fuzzer mutates: real bundles written by the real encoder
 * (encodeBundle, which the builder calls), together covering every dtype and
 * every way a value is stored (f64, f32, u8, str, dict, f32list, packed),
 * nulls, created times, composite and long keys, several views, a view with
 * no keys, and feature services; plus, when asked, the quickstart example
 * built by the real builder from its CSV.
 */
import { join } from 'node:path';
import { encodeBundle } from '../src/core/bundle/encode.js';
import { entityKeyString } from '../src/core/keys.js';
import { defineRepo } from '../src/core/repo/define.js';
import type { FeatureViewDef } from '../src/core/repo/types.js';

export interface Seed {
  name: string;
  bytes: Uint8Array;
}

const T0 = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

const userStats: FeatureViewDef = {
  name: 'user_stats', entities: ['user'], source: 'events', ttlSeconds: 3600,
  features: [
    { name: 'clicks', dtype: 'int64', default: 0 },
    { name: 'ctr', dtype: 'float32' },
    { name: 'spend', dtype: 'float64', default: 1.5 },
    { name: 'country', dtype: 'string', default: 'unknown' },
    { name: 'segment', dtype: 'string' },
    { name: 'vip', dtype: 'bool' },
    { name: 'last_seen', dtype: 'timestamp' },
    { name: 'embedding', dtype: 'float32[]' },
    { name: 'sparse', dtype: 'float32[]' },
    { name: 'tags', dtype: 'string[]' },
    { name: 'items', dtype: 'int64[]' },
  ],
};

const repo = defineRepo({
  project: 'fuzz',
  entities: [{ name: 'user', joinKeys: ['user_id'] }, { name: 'product', joinKeys: ['product_id'] }],
  sources: [{ name: 'events', path: 'data/*.parquet', timestampField: 'ts', createdTimestampField: 'created' }],
  featureViews: [
    userStats,
    { name: 'user_product', entities: ['user', 'product'], source: 'events', ttlSeconds: 0, features: [{ name: 'affinity', dtype: 'float64', default: 0.5 }, { name: 'label', dtype: 'string' }] },
    { name: 'empty', entities: ['product'], source: 'events', ttlSeconds: 60, features: [{ name: 'n', dtype: 'int64' }] },
    { name: 'history', entities: ['user'], source: 'events', ttlSeconds: 0, online: false, features: [{ name: 'orders', dtype: 'int64' }] },
  ],
  featureServices: [
    { name: 'ranker', features: ['user_stats:clicks', 'user_stats:ctr', 'user_product:*'] },
    { name: 'everything', features: ['user_stats:*'] },
  ],
});

function userRows(n: number): Record<string, unknown[]> & { keys: string[]; eventTsMs: number[]; createdTsMs: (number | null)[] } {
  const keys: string[] = [];
  const eventTsMs: number[] = [];
  const createdTsMs: (number | null)[] = [];
  const columns: Record<string, unknown[]> = Object.fromEntries(userStats.features.map((f) => [f.name, []]));
  const push = (name: string, v: unknown) => columns[name]!.push(v);
  for (let i = 0; i < n; i++) {
    const none = i % 5 === 4; // a row of nulls now and then
    keys.push(String(i * 7919 - 3));
    eventTsMs.push(T0 - (i % 3) * HOUR);
    createdTsMs.push(i % 4 === 0 ? null : T0 - (i % 3) * HOUR + 1000);
    push('clicks', none ? null : i * 13 - 40);
    push('ctr', none ? null : (i % 10) / 10);
    push('spend', none ? null : i * 0.25 - 3);
    push('country', none ? null : ['NL', 'DE', 'Zürich ✓', 'a much longer country name than eight bytes'][i % 4]);
    push('segment', none ? null : ['gold', 'silver'][i % 2]);
    push('vip', none ? null : i % 3 === 0);
    push('last_seen', none ? null : T0 - i * 60_000);
    push('embedding', none ? null : new Float32Array([i, -i / 2, 0.125]));
    push('sparse', none ? null : [i, null, 2]);
    push('tags', none ? null : i % 2 ? ['a', 'b'] : []);
    push('items', none ? null : [i, 2 ** 40, null]);
  }
  return Object.assign(columns, { keys, eventTsMs, createdTsMs });
}

async function encoded(rows: number): Promise<Uint8Array> {
  const u = userRows(rows);
  const { keys, eventTsMs, createdTsMs, ...columns } = u;
  return encodeBundle({
    project: 'fuzz',
    version: 1,
    parentVersion: null,
    createdAt: new Date(T0 + 600_000),
    asOf: new Date(T0),
    repo,
    views: [
      { name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys, eventTsMs, createdTsMs, columns },
      {
        name: 'user_product',
        joinKeys: [{ name: 'user_id', dtype: 'int64' }, { name: 'product_id', dtype: 'string' }],
        keys: [entityKeyString([1, 'p1']), entityKeyString([2, 'a product id longer than eight bytes']), entityKeyString([-3, ''])],
        eventTsMs: [T0, T0 - 1000, T0 - 2000],
        columns: { affinity: [0.9, null, 0.1], label: ['x', 'y', null] },
      },
      { name: 'empty', joinKeys: [{ name: 'product_id', dtype: 'string' }], keys: [], eventTsMs: [], columns: { n: [] } },
    ],
    warnings: ['a warning'],
  });
}

/** Seeds made by the encoder: a small bundle (most mutations land in the metadata) and a larger one. */
export async function encoderSeeds(): Promise<Seed[]> {
  return [
    { name: 'every dtype, 6 keys', bytes: await encoded(6) },
    { name: 'every dtype, 60 keys', bytes: await encoded(60) },
  ];
}

/** The quickstart example built by the real builder (DuckDB) from its CSV. */
export async function builderSeed(repoRoot: string): Promise<Seed> {
  const { buildBundle } = await import('../bundle-builder/build.js');
  const { mkdtemp, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const out = await mkdtemp(join(tmpdir(), 'larder-fuzz-'));
  try {
    const r = await buildBundle({ repoDir: join(repoRoot, 'examples', 'quickstart'), outDir: out, asOf: new Date('2026-01-01T12:00:00Z'), threads: 1 });
    return { name: 'quickstart, built by larder build', bytes: new Uint8Array(await readFile(r.path)) };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

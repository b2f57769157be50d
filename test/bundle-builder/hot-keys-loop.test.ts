/**
 * The hot-key loop: a real sidecar counts the keys traffic asks for in a
 * bounded sketch, GET /hot-keys answers them, and `larder build --hot-keys
 * <that URL>` builds a bundle holding exactly those keys.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../bundle-builder/build.js';
import { openBundle } from '../../src/bundle-file.js';
import { HotKeyCounter } from '../../src/sidecar/lifecycle/hot-keys.js';
import { silentLogger } from '../../src/sidecar/log.js';
import { startSidecar } from '../../src/sidecar/serve.js';
import { DataFiles, removeTempDirs, tempDir, writeConfig } from './helpers.js';

let data: DataFiles;
let repoDir: string;
const DRIVERS = 500;
const HOT = [7, 42, 311];

beforeAll(async () => {
  data = await DataFiles.open();
  repoDir = await tempDir();
  const t = new Date('2024-01-01T00:00:00Z');
  const rows = Array.from({ length: DRIVERS }, (_, i) => [i + 1, t, i / 10]);
  await data.write(join(repoDir, 'data', 'drivers.parquet'), { driver_id: 'BIGINT', event_ts: 'TIMESTAMP', rating: 'DOUBLE' }, rows);
  await writeConfig(repoDir, {
    project: 'loop',
    entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
    sources: [{ name: 'drivers', path: 'data/*.parquet', timestampField: 'event_ts' }],
    featureViews: [{ name: 'driver_stats', entities: ['driver'], source: 'drivers', ttlSeconds: 0, features: [{ name: 'rating', dtype: 'float64' }] }],
  });
}, 120_000);

afterAll(async () => {
  data.close();
  await removeTempDirs();
});

describe('the hot-key sketch', () => {
  it('keeps the heavy keys of a skewed stream in bounded memory', () => {
    const counter = new HotKeyCounter(16);
    const view = { name: 'v' };
    let rare = 0;
    for (let round = 0; round < 2000; round++) {
      // Each round: the hot keys 3, 2 and 1 times, and 5 keys never seen again.
      const keys = ['a', 'a', 'a', 'b', 'b', 'c', ...Array.from({ length: 5 }, () => `rare-${rare++}`)];
      counter.observe([{ view, keys }]);
    }
    const top = counter.top('v', 3);
    expect(top.map((t) => t.key)).toEqual(['a', 'b', 'c']);
    expect(counter.top('v', 1000).length).toBeLessThanOrEqual(16);
    expect(counter.observed('v')).toBe(2000 * 11);
  });
});

describe('the hot-key loop', () => {
  it('skewed traffic at a sidecar, then the next bundle holds the keys it asked for most', async () => {
    const out = await tempDir();
    await buildBundle({ repoDir, outDir: out, asOf: new Date('2024-02-01T00:00:00Z') });
    const sidecar = await startSidecar(
      { bundles: out, host: '127.0.0.1', port: 0, cacheMaxBytes: 0, maxBodyBytes: 1 << 20, maxEntities: 1000, pollMs: 50, shutdownGraceMs: 100, serveStale: false, maxConnections: 64, maxBundleBytes: 1 << 30, hotKeyCapacity: 50 },
      { log: silentLogger },
    );
    try {
      // 200 requests: each asks for the hot drivers (311 most, then 42, then 7) and 5 others spread over all.
      for (let r = 0; r < 200; r++) {
        const others = Array.from({ length: 5 }, (_, i) => ((r * 5 + i) * 37) % DRIVERS + 1);
        const ids = [311, 311, 311, 42, 42, 7, ...others];
        const res = await fetch(`${sidecar.url}/get-online-features`, { method: 'POST', body: JSON.stringify({ features: ['driver_stats:rating'], entities: { driver_id: ids } }) });
        expect(res.status).toBe(200);
      }
      const json = (await (await fetch(`${sidecar.url}/hot-keys?view=driver_stats&limit=3`)).json()) as { keys: { key: string[]; count: number }[]; observed: number };
      expect(json.keys.map((k) => k.key)).toEqual([['311'], ['42'], ['7']]);
      expect(json.observed).toBe(200 * 11);
      const bad = await fetch(`${sidecar.url}/hot-keys?view=nope`);
      expect(bad.status).toBe(404);
      expect((await fetch(`${sidecar.url}/hot-keys?view=driver_stats&limit=-1`)).status).toBe(400);

      const url = `${sidecar.url}/hot-keys?view=driver_stats&limit=3&format=csv`;
      expect(await (await fetch(url)).text()).toMatch(/^driver_id,count\n311,\d+\n42,\d+\n7,\d+\n$/);
      const next = await buildBundle({ repoDir, outDir: out, asOf: new Date('2024-02-01T00:00:00Z'), hotKeysFile: url });
      expect(next.manifest.version).toBe(2);
      const bundle = await openBundle(next.path);
      expect(bundle.view('driver_stats')!.keyCount).toBe(HOT.length);
      for (const id of HOT) expect(bundle.get('driver_stats', id)).toEqual({ rating: (id - 1) / 10 });
      expect(bundle.get('driver_stats', 1)).toBeUndefined();
    } finally {
      await sidecar.close(100);
    }
  }, 60_000);
});

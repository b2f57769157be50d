/**
 * The hot-key loop: a real sidecar counts the keys traffic asks for in a
 * bounded sketch, GET /hot-keys answers them, and `larder build --hot-keys
 * <that URL>` builds a bundle holding exactly those keys.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../bundle-builder/build.js';
import { openBundle } from '../../src/bundle-file.js';
import { HotKeyCounter } from '../../src/sidecar/lifecycle/hot-keys.js';
import type { ServeOptions } from '../../src/sidecar/options.js';
import { silentLogger } from '../../src/sidecar/log.js';
import { startSidecar } from '../../src/sidecar/serve.js';
import { DataFiles, removeTempDirs, tempDir, writeDriverRepo } from './helpers.js';

let data: DataFiles;
const serveOptions = (bundles: string, more: Partial<ServeOptions> = {}): ServeOptions => ({
  bundles, host: '127.0.0.1', port: 0, cacheMaxBytes: 0, maxBodyBytes: 1 << 20, maxEntities: 1000, pollMs: 50, shutdownGraceMs: 100, serveStale: false, maxConnections: 64, maxBundleBytes: 1 << 30, hotKeyCapacity: 50, ...more,
});
/** A sidecar on a fresh bundle writing its hot keys files every `everySeconds` (--hot-keys-out). */
async function sidecarWritingHotKeys(everySeconds: number) {
  const out = await tempDir();
  const filesDir = join(await tempDir(), 'hot');
  await buildBundle({ repoDir, outDir: out, asOf: new Date('2024-02-01T00:00:00Z') });
  const sidecar = await startSidecar(serveOptions(out, { hotKeysOut: filesDir, hotKeysEverySeconds: everySeconds }), { log: silentLogger });
  return { sidecar, out, filesDir, file: join(filesDir, 'driver_stats.hot-keys.csv') };
}
/** 200 requests: each asks for the hot drivers (311 most, then 42, then 7) and 5 others spread over all. */
async function skewedTraffic(url: string): Promise<void> {
  for (let r = 0; r < 200; r++) {
    const others = Array.from({ length: 5 }, (_, i) => ((r * 5 + i) * 37) % DRIVERS + 1);
    const ids = [311, 311, 311, 42, 42, 7, ...others];
    const res = await fetch(`${url}/get-online-features`, { method: 'POST', body: JSON.stringify({ features: ['driver_stats:rating'], entities: { driver_id: ids } }) });
    expect(res.status).toBe(200);
  }
}
let repoDir: string;
const DRIVERS = 500;
const HOT = [7, 42, 311];

beforeAll(async () => {
  data = await DataFiles.open();
  repoDir = await tempDir();
  const t = new Date('2024-01-01T00:00:00Z');
  const rows = Array.from({ length: DRIVERS }, (_, i) => [i + 1, t, i / 10]);
  await writeDriverRepo(data, repoDir, 'loop', rows);
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
    const sidecar = await startSidecar(serveOptions(out), { log: silentLogger });
    try {
      await skewedTraffic(sidecar.url);
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

  it('--hot-keys-out: the sidecar writes the hot keys file on its timer while it serves', async () => {
    const { sidecar, filesDir, file } = await sidecarWritingHotKeys(1);
    try {
      await skewedTraffic(sidecar.url);
      const deadline = Date.now() + 5000;
      while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines[0]).toBe('driver_id,count');
      expect(lines.slice(1, 4).map((l) => l.split(',')[0])).toEqual(['311', '42', '7']);
      expect((await readdir(filesDir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    } finally {
      await sidecar.close(100);
    }
  }, 60_000);

  it('--hot-keys-out: shutdown writes the final counts, and the next build holds those keys', async () => {
    // A timer that never fires during the test: only shutdown writes.
    const { sidecar, out, file } = await sidecarWritingHotKeys(3600);
    let closed = false;
    try {
      await skewedTraffic(sidecar.url);
      const served = await (await fetch(`${sidecar.url}/hot-keys?view=driver_stats&limit=50&format=csv`)).text();
      expect(existsSync(file)).toBe(false);
      await sidecar.close(100);
      closed = true;
      expect(await readFile(file, 'utf8')).toBe(served);

      const next = await buildBundle({ repoDir, outDir: out, asOf: new Date('2024-02-01T00:00:00Z'), hotKeysFile: file, hotLimit: 3 });
      const bundle = await openBundle(next.path);
      expect(bundle.view('driver_stats')!.keyCount).toBe(HOT.length);
      for (const id of HOT) expect(bundle.get('driver_stats', id)).toEqual({ rating: (id - 1) / 10 });
      expect(bundle.get('driver_stats', 1)).toBeUndefined();
    } finally {
      if (!closed) await sidecar.close(100);
    }
  }, 60_000);

  it('--hot-keys-out fails at start-up when it cannot count or cannot write', async () => {
    const out = await tempDir();
    await buildBundle({ repoDir, outDir: out, asOf: new Date('2024-02-01T00:00:00Z') });
    await expect(startSidecar(serveOptions(out, { hotKeysOut: join(out, 'hot'), hotKeyCapacity: 0 }), { log: silentLogger }))
      .rejects.toMatchObject({ code: 'LARDER_ERR_OPTION', message: expect.stringContaining('--hot-key-capacity is 0') });
    const aFile = join(await tempDir(), 'not-a-folder');
    await writeFile(aFile, 'x');
    await expect(startSidecar(serveOptions(out, { hotKeysOut: join(aFile, 'hot') }), { log: silentLogger }))
      .rejects.toMatchObject({ code: 'LARDER_ERR_OPTION', message: expect.stringContaining('--hot-keys-out') });
  }, 60_000);
});

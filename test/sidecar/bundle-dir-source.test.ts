/**
 * Bundles from a directory: the newest valid one at start, bad files
 * skipped with a clear log line, newer versions swapped in while serving,
 * and a bad new version never replacing a good one.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LruTier } from '../../src/core/resolve/tiers/lru.js';
import { BundleDirSource } from '../../src/sidecar/bundle-dir-source.js';
import { Metrics } from '../../src/sidecar/metrics.js';
import { ServingStateHolder } from '../../src/sidecar/serving-state.js';
import { captureLog, eventually, removeDir, shopBundle, shopRepo, startTestSidecar, tempDir, writeBundleFile, writeShopBundle } from './helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function setup() {
  const dir = await tempDir();
  dirs.push(dir);
  const log = captureLog();
  const holder = new ServingStateHolder({ lru: new LruTier(1 << 20), now: Date.now });
  const metrics = new Metrics();
  // A long poll: tests call check() themselves.
  const source = new BundleDirSource({ dir, pollMs: 3_600_000, holder, log, metrics });
  return { dir, log, holder, metrics, source };
}

function corrupted(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[copy.length - 3]! ^= 0xff; // a value byte: the content checksum no longer matches
  return copy;
}

describe('choosing a bundle at start', () => {
  it('serves the newest valid bundle', async () => {
    const { dir, holder, source } = await setup();
    await writeShopBundle(dir, 1);
    await writeShopBundle(dir, 3);
    await writeShopBundle(dir, 2);
    await source.start();
    source.stop();
    expect(holder.current?.version).toBe(3);
  });

  const badFiles: [string, (good: Uint8Array) => Uint8Array, RegExp][] = [
    ['a flipped value byte', corrupted, /content checksum|checksum/i],
    ['a truncated file', (b) => b.subarray(0, Math.floor(b.length / 2)), /truncated|corrupt|checksum/i],
    ['a foreign file', () => new TextEncoder().encode('PK\u0003\u0004 this is a zip, not a bundle'), /not a larder bundle/],
    ['an empty file', () => new Uint8Array(0), /not a larder bundle/],
  ];
  for (const [name, damage, reason] of badFiles) {
    it(`skips ${name} that is newest and falls back to the next newest, saying why`, async () => {
      const { dir, holder, source, log, metrics } = await setup();
      await writeShopBundle(dir, 1);
      await writeShopBundle(dir, 2);
      const badPath = await writeBundleFile(dir, damage(await shopBundle(3)), 'shop-v3.larder');
      await source.start();
      source.stop();
      expect(holder.current?.version).toBe(2);
      const warning = log.lines.find((l) => l.level === 'warn');
      expect(warning?.message).toContain(`skipping bundle ${badPath}: `);
      expect(warning?.message).toMatch(reason);
      expect(log.text()).toContain('serving bundle shop v2');
      expect(metrics.render(holder, Date.now())).toContain('larder_bundle_loads_total{result="rejected"} 1');
    });
  }

  it('rejects a file whose name and manifest disagree', async () => {
    const { dir, holder, source, log } = await setup();
    await writeShopBundle(dir, 1);
    await writeBundleFile(dir, await shopBundle(7), 'shop-v9.larder');
    await source.start();
    source.stop();
    expect(holder.current?.version).toBe(1);
    expect(log.text()).toMatch(/its name says shop v9 but its manifest says shop v7/);
  });

  it('ignores files that are not bundle names', async () => {
    const { dir, holder, source, log } = await setup();
    await writeFile(join(dir, 'README.txt'), 'hello');
    await writeFile(join(dir, '.shop-v5.larder.tmp'), 'half written');
    await writeShopBundle(dir, 1);
    await source.start();
    source.stop();
    expect(holder.current?.version).toBe(1);
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('with no valid bundle, serves nothing and says why', async () => {
    const { dir, holder, source } = await setup();
    await writeBundleFile(dir, new Uint8Array(10), 'shop-v1.larder');
    await source.start();
    source.stop();
    expect(holder.current).toBeUndefined();
    expect(holder.notReadyReason).toMatch(/no valid bundle in .* \(1 file\(s\) rejected/);
  });

  it('a directory that does not exist yet is waited for', async () => {
    const { dir, holder, source, log } = await setup();
    const later = join(dir, 'later');
    const waiting = new BundleDirSource({ dir: later, pollMs: 3_600_000, holder, log });
    await waiting.start();
    waiting.stop();
    expect(holder.current).toBeUndefined();
    await mkdir(later);
    await writeShopBundle(later, 4);
    await waiting.check();
    expect(holder.current?.version).toBe(4);
    source.stop();
  });
});

describe('while serving', () => {
  it('swaps in a newer valid version and keeps the old one when the new one is corrupt', async () => {
    const { dir, holder, source, log } = await setup();
    await writeShopBundle(dir, 1);
    await source.start();
    source.stop();
    const v1 = holder.current!;

    await writeBundleFile(dir, corrupted(await shopBundle(2)), 'shop-v2.larder');
    await source.check();
    expect(holder.current).toBe(v1);
    // An unchanged bad file is reported once, not on every poll.
    await source.check();
    await source.check();
    expect(log.lines.filter((l) => l.message.includes('shop-v2.larder'))).toHaveLength(1);
    expect(log.lines.find((l) => l.message.includes('shop-v2.larder'))!.message).toContain('still serving v1');

    // The same name rewritten with a good bundle is read again.
    await writeShopBundle(dir, 2);
    await source.check();
    expect(holder.current?.version).toBe(2);

    await writeShopBundle(dir, 3);
    await source.check();
    expect(holder.current?.version).toBe(3);
    expect(log.text()).toContain('(was v2)');
  });

  it('never goes back to an older version or over to another project', async () => {
    const { dir, holder, source, log } = await setup();
    await writeShopBundle(dir, 5);
    await source.start();
    source.stop();
    await writeShopBundle(dir, 4);
    const other = await shopBundle(9, { project: 'other', repo: shopRepo('other') });
    await writeBundleFile(dir, other, 'other-v9.larder');
    await source.check();
    expect(holder.current?.version).toBe(5);
    expect(holder.current?.manifest.project).toBe('shop');
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('a real sidecar keeps answering from the old bundle when a corrupt new one lands, then takes a good one', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await writeShopBundle(dir, 1);
    const s = await startTestSidecar(dir, { pollMs: 20 });
    try {
      const body = { features: ['user_stats:clicks'], entities: { user_id: [1] } };
      const clicks = async () => {
        const res = await s.post(body);
        expect(res.status).toBe(200);
        return [res.headers.get('x-larder-bundle-version'), ((await res.json()) as { results: { values: unknown[] }[] }).results[1]!.values[0]];
      };
      expect(await clicks()).toEqual(['1', 10]);
      await writeBundleFile(dir, corrupted(await shopBundle(2)), 'shop-v2.larder');
      await eventually(() => s.log.text().includes('skipping bundle'), 5000, 'the corrupt bundle to be rejected');
      expect(await clicks()).toEqual(['1', 10]);
      expect((await s.get('/ready')).status).toBe(200);
      await writeShopBundle(dir, 3);
      await eventually(() => s.sidecar.holder.current?.version === 3, 5000, 'v3');
      expect(await clicks()).toEqual(['3', 30]);
    } finally {
      await s.close();
    }
  });
});

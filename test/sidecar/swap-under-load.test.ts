/**
 * Hot swaps under load: 100 new bundle versions written into the served
 * folder while clients keep asking. Zero errors; every response carries one
 * version in x-larder-bundle-version, and its values are that version's
 * (clicks = 10 x version), so no response mixes two bundles; afterwards
 * the old bundles are collected: memory holds one bundle, not a hundred.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { entityKeyString } from '../../src/core/keys.js';
import { T0, removeDir, shopBundle, shopViews, startTestSidecar, tempDir, writeBundleFile } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

const EXTRA_ROWS = 5_000;

/** The shop bundle of `version` with 5000 more users, so a leaked bundle would show. */
function bigShop(version: number): Promise<Uint8Array> {
  const [users, pairs] = shopViews(version);
  const n = EXTRA_ROWS;
  const keys = [...users!.keys, ...Array.from({ length: n }, (_, i) => String(1000 + i))];
  const pad = <T,>(col: readonly T[], v: T) => [...col, ...Array.from({ length: n }, () => v)];
  const c = users!.columns;
  return shopBundle(version, {
    views: [
      {
        ...users!,
        keys,
        eventTsMs: pad(users!.eventTsMs as number[], T0),
        columns: {
          clicks: pad(c.clicks as number[], 1), ctr: pad(c.ctr as (number | null)[], 0.5), country: pad(c.country as (string | null)[], 'FR'),
          last_seen: pad(c.last_seen as (number | null)[], T0), embedding: pad(c.embedding as unknown[], [1, 2]), tags: pad(c.tags as unknown[], ['x']),
          vip: pad(c.vip as (boolean | null)[], false),
        },
      } as typeof users & object,
      pairs!,
    ],
  });
}

describe('hot swaps under load', () => {
  it('100 swaps: zero errors, one version per response, old bundles released', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await writeBundleFile(dir, await bigShop(1), bundleFileName('shop', 1));
    const s = await startTestSidecar(dir, { pollMs: 1_000_000 });
    const bundleBytes = s.sidecar.holder.current!.bundle.byteLength;
    const refs: WeakRef<object>[] = [];
    let stop = false;
    let answered = 0;
    const problems: string[] = [];
    const client = async () => {
      while (!stop) {
        const res = await s.post({ features: ['user_stats:clicks'], entities: { user_id: [1, 1001] } });
        const version = res.headers.get('x-larder-bundle-version');
        const body = (await res.json()) as { results: { values: unknown[] }[] };
        if (res.status !== 200 || !version || !/^\d+$/.test(version)) problems.push(`${res.status} ${version}`);
        else if (body.results[1]!.values[0] !== 10 * Number(version)) problems.push(`v${version} answered clicks ${String(body.results[1]!.values[0])}`);
        answered++;
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const swapMs: number[] = [];
    try {
      for (let v = 2; v <= 101; v++) {
        refs.push(new WeakRef(s.sidecar.holder.current!.bundle));
        await writeBundleFile(dir, await bigShop(v), bundleFileName('shop', v));
        const t = performance.now();
        await s.sidecar.source.check();
        swapMs.push(performance.now() - t);
        expect(s.sidecar.holder.current!.version).toBe(v);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    expect(problems).toEqual([]);
    expect(answered).toBeGreaterThan(100);

    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    expect(alive).toBe(0);
    // Array buffers: about one bundle (the one served), far below 100.
    expect(process.memoryUsage().arrayBuffers).toBeLessThan(10 * bundleBytes);
    swapMs.sort((a, b) => a - b);
    console.log(`swap (open + verify + install) of a ${(bundleBytes / 1024 / 1024).toFixed(1)} MiB bundle: median ${swapMs[50]!.toFixed(1)} ms, p99 ${swapMs[98]!.toFixed(1)} ms; ${answered} requests answered during 100 swaps`);
    await s.close();
  }, 120_000);
});

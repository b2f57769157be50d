/**
 * Hostile files dropped into the served folder of a running sidecar: a
 * bundle poisoned with a time larder cannot store (valid checksums), a file
 * over --max-bundle-bytes, and 700 MB of zeros named like a bundle. Each is
 * refused with a log line saying why, the bundle being served keeps being
 * served (no 500s), and memory stays bounded: the zeros cost one 48-byte
 * read, the oversized file none.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { joinBundle, recordsOf, splitBundle } from '../../fuzz/forge.js';
import { eventually, removeDir, shopBundle, startTestSidecar, tempDir, writeBundleFile, writeShopBundle } from './helpers.js';

const CLI = resolve(import.meta.dirname, '../../dist/src/cli.js');
const MIB = 1024 * 1024;
/** TIMESTAMP '-290000-01-01' as DuckDB's epoch_ms gives it: formatting it threw a RangeError on every request for its key. */
const YEAR_MINUS_290000_MS = -9_213_683_299_200_000;

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await removeDir(d);
});

/** Shop bundle `version` with user 1's event time set to `eventTsMs`, checksums valid. */
async function poisonedShopBundle(version: number, eventTsMs: number): Promise<Uint8Array> {
  const parts = await splitBundle(await shopBundle(version));
  recordsOf(parts, 0).f64[0] = eventTsMs;
  return joinBundle(parts);
}

/** A file of `bytes` followed by zeros up to `size` (sparse: it takes no disk), written under `name` by a rename. */
async function writeSparse(dir: string, name: string, size: number, bytes = new Uint8Array(0)): Promise<string> {
  const tmp = join(dir, `.${name}.tmp`);
  const f = await open(tmp, 'w');
  await f.write(bytes, 0, bytes.length, 0);
  await f.truncate(size);
  await f.close();
  await rename(tmp, join(dir, name));
  return join(dir, name);
}

const request = { features: ['user_stats:clicks'], entities: { user_id: [1, 2] } };

describe('hostile files in the served folder of a running sidecar', () => {
  it('refuses a poisoned bundle, one over --max-bundle-bytes and zeros, keeps serving, then takes a good one', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await writeShopBundle(dir, 1);
    const s = await startTestSidecar(dir, { maxBundleBytes: MIB });
    try {
      const poisoned = await writeBundleFile(dir, await poisonedShopBundle(2, YEAR_MINUS_290000_MS), 'shop-v2.larder');
      await eventually(() => s.log.text().includes(`skipping bundle ${poisoned}`), 5000, 'the poisoned bundle refused');
      expect(s.log.text()).toContain(`skipping bundle ${poisoned}: bundle is corrupt: view "user_stats", row 0 (key "1"): event time ${YEAR_MINUS_290000_MS} is not a time larder stores`);
      expect(s.log.text()).toContain('still serving v1');

      const huge = await writeSparse(dir, 'shop-v3.larder', 2 * MIB, await shopBundle(3));
      await eventually(() => s.log.text().includes(`skipping bundle ${huge}`), 5000, 'the huge file refused');
      expect(s.log.text()).toContain(`skipping bundle ${huge}: the bundle has ${2 * MIB} bytes, more than the ${MIB} allowed (--max-bundle-bytes); still serving v1`);

      const zeros = await writeSparse(dir, 'shop-v4.larder', MIB / 2);
      await eventually(() => s.log.text().includes(`skipping bundle ${zeros}`), 5000, 'the zeros refused');
      expect(s.log.text()).toContain(`skipping bundle ${zeros}: not a larder bundle (bad magic bytes); still serving v1`);

      // The key the poisoned bundle holds is answered from v1, with no error.
      const res = await s.post(request);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-larder-bundle-version')).toBe('1');
      const answer = (await res.json()) as { results: { values: unknown[]; statuses: string[] }[] };
      // v1's values: user 1 present, user 2 stale at the test clock (its default, 0).
      expect(answer.results[1]!.values).toEqual([10, 0]);
      expect(answer.results[1]!.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE']);
      expect(s.sidecar.metrics.render(s.sidecar.holder, Date.now())).toMatch(/larder_bundle_loads_total\{result="rejected"\} 3/);

      await writeShopBundle(dir, 5);
      await eventually(() => s.sidecar.holder.current?.version === 5, 5000, 'v5 swapped in');
    } finally {
      await s.close();
    }
  });
});

/** The process's peak resident memory (VmHWM), bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for ${pid}`);
  return Number(m[1]) * 1024;
}

describe('memory of a sidecar process refusing hostile files', () => {
  it('stays bounded: 700 MB of zeros, a 1.5 GiB file and a poisoned bundle leave its peak RSS near where it was', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    await writeShopBundle(dir, 1);
    const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--bundles', dir, '--port', '0', '--poll-ms', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await eventually(() => /listening on http:\/\/\S+/.test(out), 15_000, 'the listening line');
      const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
      const before = peakRss(child.pid!);

      const zeros = await writeSparse(dir, 'shop-v2.larder', 700 * 1000 * 1000);
      await eventually(() => err.includes(`skipping bundle ${zeros}: not a larder bundle`), 15_000, 'the zeros refused');
      const huge = await writeSparse(dir, 'shop-v3.larder', 1.5 * 1024 * MIB, await shopBundle(3));
      await eventually(() => err.includes(`skipping bundle ${huge}: the bundle has ${1.5 * 1024 * MIB} bytes, more than the ${1024 * MIB} allowed`), 15_000, 'the huge file refused');
      const poisoned = await writeBundleFile(dir, await poisonedShopBundle(4, NaN), 'shop-v4.larder');
      await eventually(() => err.includes(`skipping bundle ${poisoned}: bundle is corrupt: view "user_stats", row 0 (key "1"): event time NaN`), 15_000, 'the poisoned bundle refused');

      const res = await fetch(`${url}/get-online-features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-larder-bundle-version')).toBe('1');
      const after = peakRss(child.pid!);
      // Reading the zeros whole took the peak from ~60 MB to ~760 MB.
      expect(after - before, `peak RSS ${(before / MIB).toFixed(0)} -> ${(after / MIB).toFixed(0)} MiB`).toBeLessThan(64 * MIB);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 60_000);
});

/**
 * The whole loop on real parts: build a bundle from Parquet, serve it with
 * --log-served, request every entity, then `larder shadow` the log against
 * the offline data. A clean run finds nothing. Then three differences are
 * planted in the offline data, and the comparison must find exactly those,
 * each with its cause:
 *
 *   skew   user 5's ctr is rewritten in place (same event and created time)
 *   stale  user 7 gets a newer row, written after the bundle's as_of
 *   ttl    user 9's served row (fresh at as_of) is past its TTL at the
 *          request, while offline a newer row is fresh
 *
 * The HTML report is opened in headless Chromium and read as a person would.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../bundle-builder/build.js';
import { COLUMNS } from '../../bundle-builder/shadow-report.js';
import { type ShadowResult, runShadow } from '../../bundle-builder/shadow.js';
import { startTestSidecar } from '../sidecar/helpers.js';
import { tempDir, useDataFiles, writeConfig } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const exec = promisify(execFile);
const MIN = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const NOW = T0 + 30 * MIN;
const USERS = Array.from({ length: 20 }, (_, i) => i + 1);
const ABSENT = 42;
const STATS = ['stats:clicks', 'stats:ctr', 'stats:country', 'stats:embedding'];

type Row = [number, Date, Date, number, number, string, number[]];

/** The stats rows: every user written 10 minutes before as_of, user 9 50 minutes before (fresh at as_of, stale by the request). */
function statsRows(): Row[] {
  return USERS.map((u): Row => {
    const at = new Date(T0 - (u === 9 ? 50 : 10) * MIN);
    return [u, at, new Date(at.getTime() + MIN), u * 10, u / 10, u % 2 === 0 ? 'NL' : 'DE', [u / 4, -u]];
  });
}

const data = useDataFiles();
let repo = '';
let logDir = '';

async function writeStats(rows: Row[]): Promise<void> {
  await data.write(join(repo, 'data', 'stats.parquet'), { user_id: 'BIGINT', ts: 'TIMESTAMP', created: 'TIMESTAMP', clicks: 'BIGINT', ctr: 'FLOAT', country: 'VARCHAR', embedding: 'FLOAT[]' }, rows);
}

async function larder(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  repo = await tempDir();
  logDir = join(repo, 'served');
  await writeStats(statsRows());
  await data.write(join(repo, 'data', 'orders.parquet'), { user_id: 'BIGINT', ts: 'TIMESTAMP', orders: 'BIGINT' }, USERS.map((u) => [u, new Date(T0 - 5 * 24 * 60 * MIN), u * 3]));
  await writeConfig(repo, {
    project: 'shadowshop',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: [
      { name: 'stats_src', path: 'data/stats.parquet', timestampField: 'ts', createdTimestampField: 'created' },
      { name: 'orders_src', path: 'data/orders.parquet', timestampField: 'ts' },
    ],
    featureViews: [
      {
        name: 'stats', entities: ['user'], source: 'stats_src', ttlSeconds: 3600,
        features: [
          { name: 'clicks', dtype: 'int64', default: 0 },
          { name: 'ctr', dtype: 'float32' },
          { name: 'country', dtype: 'string', default: 'unknown' },
          { name: 'embedding', dtype: 'float32[]' },
        ],
      },
      { name: 'lifetime', entities: ['user'], source: 'orders_src', ttlSeconds: 0, features: [{ name: 'orders', dtype: 'int64' }] },
    ],
  });
  const bundles = join(repo, 'bundles');
  await buildBundle({ repoDir: repo, outDir: bundles, asOf: new Date(T0) });
  const sidecar = await startTestSidecar(bundles, { logServed: logDir, serveStale: false }, NOW);
  const ids = [...USERS, ABSENT];
  for (let i = 0; i < ids.length; i += 7) {
    const res = await sidecar.post({ features: [...STATS, 'lifetime:orders'], entities: { user_id: ids.slice(i, i + 7) } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
  await sidecar.close();
});

describe('larder shadow', () => {
  it('the README describes every column of the report as the report does', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    for (const [column, meaning] of COLUMNS) expect(readme).toContain(`| ${column} | ${meaning} |`);
  });

  it('finds nothing when served equals trained', async () => {
    const result = await runShadow({ repoDir: repo, servedDir: logDir });
    expect(result.summary.records).toBe(21);
    expect(result.summary.compared).toBe(21 * 5);
    expect(result.summary.mismatched).toBe(0);
    expect(result.verdict.pass).toBe(true);
    const cli = await larder(['shadow', repo, '--served', logDir]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('105 values of 21 logged entities compared: 105 equal, 0 mismatched');
  });

  it('names the file and line of a log line that is not a record', async () => {
    const copy = await tempDir();
    const files = (await readdir(logDir)).filter((f) => f.endsWith('.ndjson')).sort();
    for (const f of files) await copyFile(join(logDir, f), join(copy, f));
    const last = join(copy, files.at(-1)!);
    const lines = (await readFile(last, 'utf8')).split('\n').filter((l) => l !== '').length;
    await appendFile(last, '{"request_ms":"soon"}\n');
    await expect(runShadow({ repoDir: repo, servedDir: copy })).rejects.toMatchObject({ code: 'LARDER_ERR_SOURCE', message: expect.stringContaining(`${last}:${lines + 1}: not a served-log record`) });
  });

  describe('with planted skew, staleness and a TTL boundary', () => {
    let result: ShadowResult;
    const report = () => join(repo, 'report.html');

    beforeAll(async () => {
      const rows = statsRows();
      const user5 = rows.find((r) => r[0] === 5)!;
      user5[4] = 0.75; // skew: the same row, another value
      rows.push([7, new Date(T0 + 10 * MIN), new Date(T0 + 10 * MIN), 700, 0.77, 'FR', [7, 7]]); // stale: newer than as_of
      rows.push([9, new Date(T0 + 20 * MIN), new Date(T0 + 20 * MIN), 900, 0.9, 'BE', [9, 9]]); // ttl: fresh offline, expired served row
      await writeStats(rows);
      result = await runShadow({ repoDir: repo, servedDir: logDir });
    });

    it('finds exactly the planted differences, each with its cause', () => {
      const found = result.summary.features.flatMap((f) => f.examples.map((e) => `${e.cause} ${e.feature} user ${e.entity.user_id}`)).sort();
      expect(found).toEqual([
        'skew stats:ctr user 5',
        ...STATS.map((f) => `stale ${f} user 7`),
        ...STATS.map((f) => `ttl ${f} user 9`),
      ].sort());
      const byFeature = Object.fromEntries(result.summary.features.map((f) => [f.feature, f]));
      expect(byFeature['stats:ctr']).toMatchObject({ compared: 21, equal: 18, mismatched: 3, missing: 1, extra: 0, causes: { skew: 1, stale: 1, ttl: 1, not_held: 0, unexplained: 0 } });
      expect(byFeature['stats:clicks']).toMatchObject({ compared: 21, equal: 19, mismatched: 2, causes: { skew: 0, stale: 1, ttl: 1 } });
      expect(byFeature['lifetime:orders']).toMatchObject({ compared: 21, equal: 21, mismatched: 0 });
      // clicks: user 7 served 70 vs 700 offline; user 9 served the default 0 vs 900.
      expect(byFeature['stats:clicks']!.maxAbsDiff).toBe(900);
      expect(byFeature['stats:clicks']!.meanAbsDiff).toBeCloseTo((630 + 900) / 21, 9);
      const skew = result.summary.worst[0]!;
      expect(skew).toMatchObject({ cause: 'skew', feature: 'stats:ctr', entity: { user_id: 5 } });
      expect(skew.served).toMatchObject({ value: 0.5, status: 'PRESENT', tier: 'bundle', eventMs: T0 - 10 * MIN, createdMs: T0 - 9 * MIN });
      expect(skew.offline).toMatchObject({ value: 0.75, eventMs: T0 - 10 * MIN, createdMs: T0 - 9 * MIN });
      expect(result.verdict.pass).toBe(false);
      expect(result.verdict.failures).toEqual([expect.stringContaining('stats:ctr: skew rate 4.76% (1 of 21)')]);
    });

    it('reads the log in batches to bound memory, with the same result as in one', async () => {
      // 21 logged entities, 7 to a line, in batches of 4 (a line is never split): three joins.
      const batched = await runShadow({ repoDir: repo, servedDir: logDir, batchRecords: 4 });
      expect(batched.summary).toEqual(result.summary);
      expect(batched.skipped).toEqual(result.skipped);
    });

    it('gates a deployment: exit 1 past --max-mismatch, 0 within it; writes .md and .json reports', async () => {
      const strict = await larder(['shadow', repo, '--served', logDir, '--out', report()]);
      expect(strict.code).toBe(1);
      expect(strict.stdout).toContain('FAIL: 1 feature(s) above 0.00%');
      const lenient = await larder(['shadow', repo, '--served', logDir, '--max-mismatch', '5%', '--out', join(repo, 'report.md')]);
      expect(lenient.code, lenient.stderr).toBe(0);
      expect(await readFile(join(repo, 'report.md'), 'utf8')).toContain('| stats:ctr | float32 | 21 | 18 | 3 | 1 | 0 | 1 | 1 | 1 | 0 | 0 |');
      const json = await larder(['shadow', repo, '--served', logDir, '--max-mismatch', '0.05', '--out', join(repo, 'report.json')]);
      expect(json.code).toBe(0);
      expect(JSON.parse(await readFile(join(repo, 'report.json'), 'utf8')).summary.causes).toEqual({ stale: 4, ttl: 4, skew: 1, not_held: 0, unexplained: 0 });
      const bad = await larder(['shadow', repo, '--served', logDir, '--max-mismatch', '2']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--max-mismatch (LARDER_MAX_MISMATCH) must be a rate from 0 to 1 (0.001) or a percentage (0.1%), got "2" from --max-mismatch');
    });

    describe('the HTML report, in Chromium', () => {
      let browser: Browser;
      beforeAll(async () => {
        if (!existsSync(report())) await larder(['shadow', repo, '--served', logDir, '--out', report()]);
        browser = await launchChromium();
      });
      afterAll(async () => {
        await browser?.close();
      });

      it('shows the verdict, the table, a bar per feature and the worst examples', async () => {
        const page = await browser.newPage();
        await page.goto(pathToFileURL(report()).href);
        expect(await page.textContent('#verdict')).toBe('FAIL: 1 feature(s) above 0.00%');
        const table = await page.$$eval('#features tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, 12).map((td) => td.textContent)));
        expect(table).toContainEqual(['stats:ctr', 'float32', '21', '18', '3', '1', '0', '1', '1', '1', '0', '0']);
        expect(table).toContainEqual(['lifetime:orders', 'int64', '21', '21', '0', '0', '0', '0', '0', '0', '0', '0']);
        // The bar: segments in proportion to the counts, drawn at their size.
        const bar = await page.$$eval('tr[data-feature="stats:ctr"] svg.bar rect', (rects) =>
          rects.map((r) => ({ part: r.getAttribute('data-part'), count: Number(r.getAttribute('data-count')), width: r.getBoundingClientRect().width })),
        );
        const unit = bar.find((b) => b.part === 'skew')!.width;
        expect(unit).toBeGreaterThan(5);
        expect(bar.map((b) => [b.part, b.count, Math.round(b.width / unit)])).toEqual([['equal', 18, 18], ['stale', 1, 1], ['ttl', 1, 1], ['skew', 1, 1], ['not_held', 0, 0], ['unexplained', 0, 0]]);
        // The worst differences lead with the skew, and each cause has its example entities.
        const worst = await page.$$eval('#worst tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)));
        expect(worst[0]).toEqual(['skew', 'stats:ctr', 'user_id=5']);
        expect(await page.textContent('#examples-stale')).toContain('user_id=7');
        expect(await page.textContent('#examples-ttl')).toContain('user_id=9');
        expect(await page.textContent('#columns')).toContain('the same source row (event and created time) with a different value');
        await page.close();
      });
    });
  });
});

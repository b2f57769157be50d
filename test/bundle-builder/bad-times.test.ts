/**
 * Source rows holding times larder cannot store (DuckDB's timestamps reach
 * years -290,000 and 294,000, and infinity): the build fails naming the
 * source, column, file, row, key and value, or with --on-bad-row skip leaves
 * those rows out with a counted warning. Real Parquet and CSV files, the real
 * builder and the compiled CLI.
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildBundle } from '../../bundle-builder/build.js';
import { openBundle } from '../../src/bundle-file.js';
import { LarderError } from '../../src/core/errors.js';
import { tempDir, useDataFiles, writeConfig } from './helpers.js';

const CLI = resolve(import.meta.dirname, '../../dist/src/cli.js');
const exec = promisify(execFile);
const data = useDataFiles();
const AS_OF = new Date('2024-02-01T00:00:00Z');

const SCHEMA = { driver_id: 'BIGINT', event_ts: 'TIMESTAMP', created: 'TIMESTAMP', rating: 'DOUBLE', seen: 'TIMESTAMP' };
/** Keys 1 and 5 have good rows; 2, 3 and 4 only bad ones; 6 a null event time. */
const ROWS = [
  [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 4.5, '2023-12-31 00:00:00'],
  [1, '-290000-01-01 00:00:00', '2024-01-01 00:00:00', 1.0, null],
  [2, '-infinity', null, 3.0, null],
  [3, '2024-01-02 00:00:00', null, 3.5, 'infinity'],
  [4, '2024-01-03 00:00:00', '294000-01-01 00:00:00', 2.5, null],
  [5, '2024-01-01 00:00:00', null, 5.0, '0001-01-01 00:00:00'],
  [6, null, null, 1.5, null],
];

async function repo(rows: unknown[][] = ROWS, file = 'events.parquet'): Promise<{ dir: string; config: string; dataFile: string }> {
  const dir = await tempDir();
  const dataFile = join(dir, file);
  await data.write(dataFile, SCHEMA, rows);
  const config = await writeConfig(dir, {
    project: 'badtimes',
    entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
    sources: [{ name: 'events', path: file, timestampField: 'event_ts', createdTimestampField: 'created' }],
    featureViews: [{
      name: 'stats', entities: ['driver'], source: 'events', ttlSeconds: 0,
      features: [{ name: 'rating', dtype: 'float64' }, { name: 'seen', dtype: 'timestamp' }],
    }],
  });
  return { dir, config, dataFile };
}

async function larder(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('times larder cannot store, in source rows', () => {
  it('fail the build by default, naming source, column, file, row, key and value; nothing is written', async () => {
    const { dir, config, dataFile } = await repo();
    const out = join(dir, 'out');
    const e = await buildBundle({ repoDir: dir, outDir: out, asOf: AS_OF }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(LarderError);
    const { code, message } = e as LarderError;
    expect(code).toBe('LARDER_ERR_VALUE');
    expect(message).toContain(config);
    expect(message).toContain('feature view "stats": 4 source rows of source "events" hold a time larder cannot store (it stores 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z)');
    // Parquet rows are counted from 1, in file order.
    expect(message).toContain(`${dataFile} row 2 (driver_id "1"): column "event_ts" (timestampField) = 290001-01-01 (BC) 00:00:00`);
    expect(message).toContain(`${dataFile} row 3 (driver_id "2"): column "event_ts" (timestampField) = -infinity`);
    expect(message).toContain(`${dataFile} row 4 (driver_id "3"): column "seen" (feature "seen") = infinity`);
    expect(message).toContain(`${dataFile} row 5 (driver_id "4"): column "created" (createdTimestampField) = 294000-01-01 00:00:00`);
    expect(message).toContain('--on-bad-row skip');
    expect(message).not.toMatch(/null event_ts/);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('--on-bad-row skip leaves those rows out with a counted warning; the bundle answers every key', async () => {
    const { dir, dataFile } = await repo();
    const r = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), asOf: AS_OF, onBadRow: 'skip' });
    const skipped = r.warnings.filter((w) => w.includes('cannot store'));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toContain('feature view "stats": skipped 4 source rows of source "events" holding a time larder cannot store (it stores 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z)');
    expect(skipped[0]).toContain(`${dataFile} row 3 (driver_id "2"): column "event_ts" (timestampField) = -infinity`);
    // -infinity is not a null: only key 6's row is reported as one.
    expect(r.warnings).toContain('feature view "stats": 1 source rows have a null event_ts and were skipped');
    expect(r.views[0]!.keys).toBe(2);

    const bundle = await openBundle(r.path);
    // Key 1's bad row (year -290000) is left out, not taken as an older version.
    expect(bundle.get('stats', 1)).toEqual({ rating: 4.5, seen: '2023-12-31T00:00:00Z' });
    expect(bundle.get('stats', 5)).toEqual({ rating: 5, seen: '0001-01-01T00:00:00Z' });
    for (const key of [2, 3, 4]) expect(bundle.get('stats', key)).toBeUndefined();
    const answer = bundle.getOnlineFeatures({ features: ['stats:rating', 'stats:seen'], entities: { driver_id: [1, 2, 3, 4, 5, 6] } }, { now: AS_OF });
    expect(answer.results[1]!.statuses).toEqual(['PRESENT', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'PRESENT', 'NOT_FOUND']);
  });

  it('CSV rows are named by their row, counted from 1', async () => {
    const { dir, dataFile } = await repo([
      [1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 4.5, '2024-01-01 00:00:00'],
      [2, 'infinity', '2024-01-01 00:00:00', 3.0, '2024-01-01 00:00:00'],
    ], 'events.csv');
    const e = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), asOf: AS_OF }).then(() => undefined, (err: unknown) => err);
    expect((e as LarderError).message).toContain(`${dataFile} row 2 (driver_id "2"): column "event_ts" (timestampField) = infinity`);
  });

  it('larder build --on-bad-row: fail by default (exit 1), skip with a warning (exit 0), anything else exits 2', async () => {
    const { dir } = await repo();
    const failed = await larder(['build', dir, '--out', join(dir, 'out'), '--as-of', '2024-02-01']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/LARDER_ERR_VALUE: .*4 source rows of source "events" hold a time larder cannot store/);

    const skipped = await larder(['build', dir, '--out', join(dir, 'out'), '--as-of', '2024-02-01', '--on-bad-row', 'skip']);
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toMatch(/warning: feature view "stats": skipped 4 source rows/);
    expect(skipped.stdout).toMatch(/stats\s+2\s+7\s+/);

    const fromEnv = await larder(['build', dir, '--out', join(dir, 'out'), '--as-of', '2024-02-01'], { LARDER_ON_BAD_ROW: 'skip' });
    expect(fromEnv.code).toBe(0);

    const bad = await larder(['build', dir, '--out', join(dir, 'out'), '--on-bad-row', 'ignore']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--on-bad-row (LARDER_ON_BAD_ROW) must be fail or skip, got "ignore" from --on-bad-row');
    const help = await larder(['build', '--help']);
    expect(help.stdout).toMatch(/--on-bad-row <fail\|skip>\n.*\n\s+env LARDER_ON_BAD_ROW; default fail/);
  });
});

/**
 * Pushes that reach the offline data: POST /push with "offline" (and
 * "online_and_offline") writes a Parquet file the source reads, and the next
 * build holds the pushed rows; a source that cannot take pushed files is
 * refused before anything is written. And `larder push` from a file.
 */
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../../bundle-builder/build.js';
import { openBundle } from '../../src/bundle-file.js';
import { RedisServer } from '../redis-servers.js';
import { type TestSidecar, startTestSidecar } from '../sidecar/helpers.js';
import { redisOptions } from '../sidecar/redis-helpers.js';
import { DataFiles, removeTempDirs, tempDir, writeConfig } from './helpers.js';

const CLI = join(resolve(import.meta.dirname, '../..'), 'dist', 'src', 'cli.js');
const exec = promisify(execFile);
const TOKEN = 'push-test-token-0123456789';
const T = Date.parse('2026-02-01T00:00:00Z');

let files: DataFiles;
let redis: RedisServer;
let repoDir: string;
let s: TestSidecar;

beforeAll(async () => {
  files = await DataFiles.open();
  redis = await RedisServer.start();
  repoDir = await tempDir();
  const schema = { user_id: 'BIGINT', ts: 'TIMESTAMP', clicks: 'BIGINT', tags: 'VARCHAR[]', other: 'VARCHAR' };
  await files.write(join(repoDir, 'data', 'stats', 'base.parquet'), schema, [[1, new Date(T), 10, ['a'], 'x'], [2, new Date(T), 20, [], 'y']]);
  await files.write(join(repoDir, 'data', 'single.parquet'), { user_id: 'BIGINT', ts: 'TIMESTAMP', score: 'DOUBLE' }, [[1, new Date(T), 0.5]]);
  await writeConfig(repoDir, {
    project: 'pushy',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: [
      { name: 'stats', path: 'data/stats/*.parquet', timestampField: 'ts' },
      { name: 'single', path: 'data/single.parquet', timestampField: 'ts' },
    ],
    featureViews: [
      { name: 'user_stats', entities: ['user'], source: 'stats', ttlSeconds: 0, features: [{ name: 'clicks', dtype: 'int64' }, { name: 'tags', dtype: 'string[]' }] },
      { name: 'scores', entities: ['user'], source: 'single', ttlSeconds: 0, features: [{ name: 'score', dtype: 'float64' }] },
    ],
    featureServices: [],
  });
  await buildBundle({ repoDir, outDir: join(repoDir, 'bundles'), asOf: new Date(T + 1000), threads: 1 });
  s = await startTestSidecar(join(repoDir, 'bundles'), redisOptions(redis.url, { adminToken: TOKEN, repo: repoDir }), T + 60_000);
});

afterAll(async () => {
  await s?.close();
  files.close();
  await redis.stop();
  await removeTempDirs();
});

const push = (body: unknown) => fetch(`${s.url}/push`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('push to offline', () => {
  it('writes a Parquet file the source reads: the next build holds the pushed rows, and online serves them meanwhile', async () => {
    const res = await push({
      push_source_name: 'stats',
      to: 'online_and_offline',
      df: { user_id: [2, 3], ts: ['2026-02-01T00:00:30Z', '2026-02-01 00:00:30'], clicks: [21, 30], tags: [['b', null], null] },
    });
    expect(res.status).toBe(200);
    const written = (await readdir(join(repoDir, 'data', 'stats'))).filter((f) => f.startsWith('larder-push-'));
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^larder-push-\d{8}T\d{9}Z-[0-9a-f]{8}\.parquet$/);
    // Online: served at once.
    const online = (await (await s.post({ features: ['user_stats:clicks'], entities: { user_id: [1, 2, 3] } })).json()) as { results: { values: unknown[] }[] };
    expect(online.results[1]!.values).toEqual([10, 21, 30]);
    // Offline: the next build reads the pushed file with the source's own.
    const next = await buildBundle({ repoDir, outDir: join(repoDir, 'bundles'), asOf: new Date(T + 3_600_000), threads: 1 });
    const bundle = await openBundle(next.path);
    expect([1, 2, 3].map((u) => bundle.get('user_stats', u))).toEqual([{ clicks: 10, tags: ['a'] }, { clicks: 21, tags: ['b', null] }, { clicks: 30, tags: null }]);
  });

  it('refuses a source that reads one file, before writing anything', async () => {
    const res = await push({ push_source_name: 'scores', to: 'online_and_offline', df: { user_id: [9], ts: ['2026-02-01T00:00:00Z'], score: [1] } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/source "single" reads one file \("data\/single.parquet"\); to take pushed rows its path must be a glob such as "data\/\*.parquet"/);
    expect(await redis.cli('exists', 'larder:{pushy}:changes')).toBe('1');
    expect(await redis.cli('xlen', 'larder:{pushy}:changes')).toBe('2');
  });
});

describe('larder push', () => {
  it('pushes a JSON file online; a sidecar on that Redis serves it', async () => {
    const file = join(repoDir, 'rows.json');
    await writeFile(file, JSON.stringify([{ user_id: 1, ts: '2026-02-01T00:00:40Z', clicks: 11, tags: ['cli'] }]));
    const run = await exec(process.execPath, [CLI, 'push', repoDir, file, '--source', 'user_stats', '--redis', redis.url]);
    expect(run.stdout).toMatch(/pushed 1 rows online to redis:\/\/127.0.0.1:\d+\/?: 1 stored, 0 older/);
    const deadline = Date.now() + 2000;
    let clicks: unknown;
    while (Date.now() < deadline) {
      clicks = ((await (await s.post({ features: ['user_stats:clicks'], entities: { user_id: [1] } })).json()) as { results: { values: unknown[] }[] }).results[1]!.values[0];
      if (clicks === 11) break;
    }
    expect(clicks).toBe(11);
    const bad = await exec(process.execPath, [CLI, 'push', repoDir, file, '--source', 'user_stats', '--redis', redis.url, '--to', 'nowhere']).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('LARDER_ERR_OPTION: --to (LARDER_PUSH_TO) must be online, offline or online_and_offline, got "nowhere" from --to') });
  });
});

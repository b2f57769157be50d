/**
 * The served-value log (--log-served) on a real sidecar over HTTP: every
 * request's line says what the response said (values, statuses) plus the
 * tier, bundle and row times; DuckDB reads the files as they are, one row
 * per entity and feature with three unnests; nothing is lost at a
 * moderate rate, drops are counted when the buffer is full, files rotate by
 * size and age, sampling by key keeps an entity's every request, and a real
 * `larder serve` writes every accepted line before it exits on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityKeyString, hashKey } from '../../src/core/keys.js';
import type { FieldStatus } from '../../src/core/asof.js';
import { STATUS_CODES, type ServedLine, type ServedRecord, parseServedLine, servedRecords } from '../../src/core/shadow/served-record.js';
import { HOUR, T0, type TestSidecar, eventually, removeDir, startTestSidecar, tempDir, writeShopBundle } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const NOW = T0 + 30 * 60_000;
/** A response column's statuses as the log's letters. */
const codesOf = (statuses: string[]): string => statuses.map((s) => STATUS_CODES[s as FieldStatus]).join('');

const dirs: string[] = [];
async function newDir(): Promise<string> {
  const d = await tempDir();
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map(removeDir));
});

/** Every line of the complete (.ndjson) files in `dir`, parsed and checked, in file then line order. */
async function readLines(dir: string): Promise<ServedLine[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ndjson')).sort();
  const lines: ServedLine[] = [];
  for (const f of files) {
    const text = await readFile(join(dir, f), 'utf8');
    for (const line of text.split('\n')) if (line !== '') lines.push(parseServedLine(line));
  }
  return lines;
}

/** Every logged entity's record, in file, line and entity order. */
async function readLog(dir: string): Promise<ServedRecord[]> {
  return (await readLines(dir)).flatMap(servedRecords);
}

async function metric(sidecar: TestSidecar, name: string): Promise<number> {
  const text = await (await sidecar.get('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

let bundles = '';
beforeAll(async () => {
  bundles = await newDir();
  await writeShopBundle(bundles, 1);
});

describe('what the log records', () => {
  it('is what was served, with tier, bundle and row times, and DuckDB reads it directly', async () => {
    const logDir = await newDir();
    const sidecar = await startTestSidecar(bundles, { logServed: logDir }, NOW);
    const features = ['user_stats:clicks', 'user_stats:ctr', 'user_stats:country', 'user_stats:embedding', 'user_stats:tags', 'user_stats:vip', 'user_stats:last_seen', 'user_product:affinity'];
    const body = { features, entities: { user_id: [1, 2, 3, 9], product_id: ['p1', 'p1', 'p1', 'p1'] } };
    const response = (await (await sidecar.post(body)).json()) as { results: { values: unknown[]; statuses: string[] }[] };
    // Five entities all from the bundle: their tiers and created times are written once and doubled.
    const same = { features: ['user_stats:clicks', 'user_stats:ctr'], entities: { user_id: [1, 3, 1, 3, 1] } };
    const sameResponse = (await (await sidecar.post(same)).json()) as { results: { values: unknown[]; statuses: string[] }[] };
    await sidecar.close();

    // One line per request, its values copied from the response column by column.
    const lines = await readLines(logDir);
    expect(lines.length).toBe(2);
    expect(lines[1]!.views).toEqual([{
      view: 'user_stats', tiers: ['bundle', 'bundle', 'bundle', 'bundle', 'bundle'], event_ms: [T0, T0, T0, T0, T0], created_ms: [null, null, null, null, null],
      features: ['clicks', 'ctr'], values: sameResponse.results.slice(1).map((col) => col.values), status_codes: sameResponse.results.slice(1).map((col) => codesOf(col.statuses)),
    }]);
    lines.pop();
    expect(lines[0]).toMatchObject({ entity_index: [0, 1, 2, 3], entities: { user_id: [1, 2, 3, 9], product_id: ['p1', 'p1', 'p1', 'p1'] } });
    const userStats = lines[0]!.views[0]!;
    expect(userStats.features).toEqual(features.slice(0, 7).map((f) => f.split(':')[1]));
    expect(userStats.values).toEqual(response.results.slice(2, 9).map((col) => col.values));
    expect(userStats.status_codes).toEqual(response.results.slice(2, 9).map((col) => codesOf(col.statuses)));
    expect(userStats.tiers).toEqual(['bundle', 'bundle', 'bundle', 'default']);

    const records = (await readLog(logDir)).slice(0, 4);
    expect(records.map((r) => r.entity)).toEqual([1, 2, 3, 9].map((u) => ({ user_id: u, product_id: 'p1' })));
    records.forEach((r, i) => {
      expect(r).toMatchObject({ request_ms: NOW, entity_index: i, project: 'shop', bundle_version: 1, bundle_as_of_ms: T0, serve_stale: false });
      expect(r.request_id).toBe(records[0]!.request_id);
      expect(r.views.map((v) => v.view)).toEqual(['user_stats', 'user_product']);
      const logged = r.views.flatMap((v) => v.features.map((name, j) => ({ ref: `${v.view}:${name}`, value: v.values[j], status: v.statuses[j] })));
      expect(logged.map((f) => f.ref)).toEqual(features);
      logged.forEach((f, c) => {
        const col = response.results[c + 2]!;
        expect({ i, c, value: f.value, status: f.status }).toEqual({ i, c, value: col.values[i], status: col.statuses[i] });
      });
    });
    // Users 1, 2 and 3 are in the bundle (2 stale, 3 with nulls); 9 is in no tier.
    expect(records.map((r) => { const v = r.views[0]!; return [v.statuses[0], v.tier, v.event_ms, v.created_ms]; })).toEqual([
      ['PRESENT', 'bundle', T0, null],
      ['OUTSIDE_MAX_AGE', 'bundle', T0 - 2 * HOUR, null],
      ['PRESENT', 'bundle', T0, null],
      ['NOT_FOUND', 'default', null, null],
    ]);
    expect(records[1]!.views[0]!.values[0]).toBe(0); // the stale row reads as clicks' default
    expect(records.map((r) => r.views[1]!.tier)).toEqual(['bundle', 'bundle', 'default', 'default']);

    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      // The README's query: one row per entity and feature.
      const sql = `SELECT user_id, tier, value, status FROM (
          SELECT request_ms, unnest(user_ids) AS user_id, view, feature, unnest(vals) AS value, unnest(string_split(codes, '')) AS status, unnest(tiers) AS tier, unnest(event_ms) AS event_ms
          FROM (SELECT request_ms, entities.user_id AS user_ids, v.view, v.tiers, v.event_ms, unnest(v.features) AS feature, unnest(v.values) AS vals, unnest(v.status_codes) AS codes
                FROM (SELECT request_ms, entities, unnest(views) AS v FROM read_ndjson('${logDir}/*.ndjson'))))
        WHERE view = 'user_stats' AND feature = 'clicks' ORDER BY user_id, tier`;
      const rows = (await conn.runAndReadAll(sql)).getRowObjectsJS();
      expect(rows.map((r) => [Number(r.user_id), r.tier, JSON.parse(String(r.value)), r.status])).toEqual([
        ...Array.from({ length: 4 }, () => [1, 'bundle', 10, 'P']), [2, 'bundle', 0, 'O'], ...Array.from({ length: 3 }, () => [3, 'bundle', 30, 'P']), [9, 'default', 0, 'M'],
      ]);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
});

describe('under load', () => {
  it('drops nothing at a moderate rate', async () => {
    const logDir = await newDir();
    const sidecar = await startTestSidecar(bundles, { logServed: logDir }, NOW);
    const total = 1500;
    let next = 0;
    // 8 clients in parallel, each request sent when the last one is answered.
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < total) {
        const id = next++;
        const res = await sidecar.post({ features: ['user_stats:clicks'], entities: { user_id: [id % 4] } });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    }));
    expect(await metric(sidecar, 'larder_served_log_rows_total{result="accepted"}')).toBe(total);
    expect(await metric(sidecar, 'larder_served_log_rows_total{result="dropped"}')).toBe(0);
    await sidecar.close();
    const records = await readLog(logDir);
    expect(records.length).toBe(total);
    expect(new Set(records.map((r) => r.request_id)).size).toBe(total);
  });

  it('counts what it drops when its buffer is full, and writes all it accepted', async () => {
    const logDir = await newDir();
    const sidecar = await startTestSidecar(bundles, { logServed: logDir, logBufferRows: 4 }, NOW);
    // A request larger than the whole buffer never fits.
    await (await sidecar.post({ features: ['user_stats:clicks'], entities: { user_id: [1, 2, 3, 4, 5, 6] } })).arrayBuffer();
    // A burst: many answers wait in the buffer at once.
    await Promise.all(Array.from({ length: 200 }, async (_, i) => (await sidecar.post({ features: ['user_stats:clicks'], entities: { user_id: [i % 3 + 1] } })).arrayBuffer()));
    const accepted = await metric(sidecar, 'larder_served_log_rows_total{result="accepted"}');
    const dropped = await metric(sidecar, 'larder_served_log_rows_total{result="dropped"}');
    expect(dropped).toBeGreaterThanOrEqual(6);
    expect(accepted + dropped).toBe(206);
    await sidecar.close();
    expect((await readLog(logDir)).length).toBe(accepted);
  });
});

describe('files', () => {
  it('rotate by size and by age, and only complete files end in .ndjson', async () => {
    const logDir = await newDir();
    const sidecar = await startTestSidecar(bundles, { logServed: logDir, logRotateBytes: 2000, logRotateSeconds: 1 }, NOW);
    // Three bursts, each written as its own batch (lines are handed over in batches of up to 100 ms).
    for (let burst = 0; burst < 3; burst++) {
      for (let i = 0; i < 10; i++) await (await sidecar.post({ features: ['user_stats:clicks', 'user_stats:country'], entities: { user_id: [1] } })).arrayBuffer();
      await new Promise((r) => setTimeout(r, 250));
    }
    await eventually(async () => (await readdir(logDir)).filter((f) => f.endsWith('.ndjson')).length >= 3, 5000, 'size rotation');
    const names = await readdir(logDir);
    expect(names.filter((f) => f.endsWith('.part')).length).toBeLessThanOrEqual(1);
    // A file closes once it holds 2000 bytes (the batch that crossed the line included).
    for (const f of names.filter((n) => n.endsWith('.ndjson'))) {
      const text = await readFile(join(logDir, f), 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(2000);
    }
    // One more line, then no traffic: the age limit closes its file.
    await (await sidecar.post({ features: ['user_stats:clicks'], entities: { user_id: [2] } })).arrayBuffer();
    await eventually(async () => (await readLog(logDir)).length === 31, 5000, 'age rotation');
    await sidecar.close();
    expect((await readdir(logDir)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });
});

describe('sampling', () => {
  it('by key keeps every request of a sampled entity and none of the others', async () => {
    const logDir = await newDir();
    const sidecar = await startTestSidecar(bundles, { logServed: logDir, logSample: 0.5, logSampleBy: 'key' }, NOW);
    const users = Array.from({ length: 40 }, (_, i) => i + 1);
    const features = ['user_stats:clicks', 'user_stats:ctr', 'user_stats:country', 'user_stats:embedding'];
    let response: { results: { values: unknown[]; statuses: string[] }[] } | undefined;
    for (let round = 0; round < 3; round++) {
      response = (await (await sidecar.post({ features, entities: { user_id: users } })).json()) as typeof response;
    }
    await sidecar.close();
    const records = await readLog(logDir);
    // A partly logged request's entities are written on their own: still what the response said.
    for (const r of records) {
      const v = r.views[0]!;
      expect(v.values).toEqual(response!.results.slice(1).map((col) => col.values[r.entity_index]));
      expect(v.statuses).toEqual(response!.results.slice(1).map((col) => col.statuses[r.entity_index]));
      expect(r.entity.user_id).toBe(users[r.entity_index]);
    }
    expect(records.some((r) => r.views[0]!.statuses[0] === 'PRESENT')).toBe(true);
    const logged = new Map<number, number>();
    for (const r of records) logged.set(r.entity.user_id as number, (logged.get(r.entity.user_id as number) ?? 0) + 1);
    const expected = users.filter((u) => hashKey(entityKeyString([u])) / 2 ** 32 < 0.5);
    expect([...logged.keys()].sort((a, b) => a - b)).toEqual(expected);
    expect([...logged.values()].every((n) => n === 3)).toBe(true);
    expect(expected.length).toBeGreaterThan(10);
    expect(expected.length).toBeLessThan(30);
  });
});

describe('larder serve --log-served', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  const startServe = async (args: string[]): Promise<{ url: string; exited: Promise<number | null>; stderr: () => string }> => {
    expect(existsSync(CLI), 'run `npx tsc -p tsconfig.json` first').toBe(true);
    const proc = spawn(process.execPath, [CLI, 'serve', '--bundles', bundles, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await eventually(() => /listening on (\S+)/.test(out) || proc.exitCode !== null, 10_000, 'the sidecar to listen');
    return { url: /listening on (\S+)/.exec(out)?.[1] ?? '', exited, stderr: () => err };
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`writes every accepted line before exiting on ${signal}`, async () => {
      const logDir = await newDir();
      const serve = await startServe(['--log-served', logDir, '--log-rotate-bytes', '4KiB']);
      const total = 400;
      await Promise.all(Array.from({ length: total }, async (_, i) => {
        const res = await fetch(`${serve.url}/get-online-features`, { method: 'POST', body: JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [i] } }) });
        await res.arrayBuffer();
      }));
      child!.kill(signal);
      expect(await serve.exited).toBe(0);
      const records = await readLog(logDir);
      expect(records.length).toBe(total);
      expect(new Set(records.map((r) => r.entity.user_id)).size).toBe(total);
      expect((await readdir(logDir)).filter((f) => f.endsWith('.part'))).toEqual([]);
    });
  }

  it('refuses a log directory it cannot write, and a bad sample, with exit 2', async () => {
    const file = join(await newDir(), 'not-a-dir');
    await writeFile(file, 'x');
    const bad = await startServe(['--log-served', file]);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('--log-served (LARDER_LOG_SERVED): cannot write the served log to');
    const sample = await startServe(['--log-served', file, '--log-sample', '2']);
    expect(await sample.exited).toBe(2);
    expect(sample.stderr()).toContain('--log-sample (LARDER_LOG_SAMPLE) must be a fraction from 0 to 1');
  });
});

/**
 * `larder training` as a user runs it: the compiled CLI on real files (a
 * composite key, two views, a feature service, labels passing through), and
 * the clear errors for an entities file that lacks a join key or a
 * timestamp, or types one wrongly.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { tableFromIPC } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTrainingSet } from '../../bundle-builder/training.js';
import { tempDir, useDataFiles, writeConfig } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const exec = promisify(execFile);
const T = (iso: string) => new Date(`2024-01-01T${iso}Z`);

async function larder(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

const data = useDataFiles();
let repo = '';

beforeAll(async () => {
  expect(existsSync(CLI), 'run `npx tsc -p tsconfig.json` first').toBe(true);
  repo = await tempDir();
  await data.write(join(repo, 'data', 'users.parquet'), { user_id: 'BIGINT', ts: 'TIMESTAMP', clicks: 'BIGINT', country: 'VARCHAR' }, [
    [1, T('10:00:00'), 5, 'NL'],
    [1, T('12:00:00'), 7, 'DE'],
    [2, T('09:00:00'), 3, null],
  ]);
  await data.write(join(repo, 'data', 'pairs.parquet'), { user_id: 'BIGINT', product_id: 'VARCHAR', ts: 'TIMESTAMP', affinity: 'DOUBLE' }, [
    [1, 'p1', T('11:00:00'), 0.25],
    [1, 'p1', T('11:30:00'), 0.75],
  ]);
  await writeConfig(repo, {
    project: 'shop',
    entities: [{ name: 'user', joinKeys: ['user_id'] }, { name: 'product', joinKeys: ['product_id'] }],
    sources: [
      { name: 'users', path: 'data/users.parquet', timestampField: 'ts' },
      { name: 'pairs', path: 'data/pairs.parquet', timestampField: 'ts' },
    ],
    featureViews: [
      { name: 'user_stats', entities: ['user'], source: 'users', ttlSeconds: 3600, features: [{ name: 'clicks', dtype: 'int64', default: 0 }, { name: 'country', dtype: 'string', default: 'unknown' }] },
      { name: 'user_product', entities: ['user', 'product'], source: 'pairs', ttlSeconds: 0, online: false, features: [{ name: 'affinity', dtype: 'float64' }] },
    ],
    featureServices: [{ name: 'ranker', features: ['user_stats:*', 'user_product:affinity'] }],
  });
});

describe('larder training', () => {
  it('writes each row the values at its time, in input order, labels passed through', async () => {
    const entities = join(repo, 'entities.csv');
    await data.write(entities, { user_id: 'BIGINT', product_id: 'VARCHAR', event_timestamp: 'TIMESTAMP', label: 'INTEGER' }, [
      [1, 'p1', T('12:30:00'), 1], // clicks 7 (12:00), affinity 0.75
      [1, 'p1', T('10:45:00'), 0], // clicks 5 (10:00, 45 min old), no pair row yet
      [2, 'p1', T('11:00:00'), 1], // 09:00 is 2 h old, TTL 1 h: defaults 0 and "unknown"; no pair row
      [1, 'p1', T('09:59:59'), 0], // before every row: defaults
      [1, 'p1', T('11:15:00'), 1], // 10:00 is 75 min old: defaults; affinity 0.25 (TTL 0)
    ]);
    const out = join(repo, 'train.parquet');
    const run = await larder(['training', repo, '--entities', entities, '--feature-service', 'ranker', '--out', out, '--full-feature-names']);
    expect(run.stderr).toContain('reading entities');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`wrote 5 rows x 7 columns to ${out}`);
    expect(run.stdout).toMatch(/user_stats\s+2\s+2\s+2\s+1\n\s+user_product\s+1\s+2\s+0\s+3/);
    const rows = (await data.conn.runAndReadAll(`SELECT * FROM read_parquet('${out}')`)).getRowObjectsJS();
    expect(rows.map((r) => [r.user_id, r.label, r.user_stats__clicks, r.user_stats__country, r.user_product__affinity]).map((r) => r.map((v) => (typeof v === 'bigint' ? Number(v) : v)))).toEqual([
      [1, 1, 7, 'DE', 0.75],
      [1, 0, 5, 'NL', null],
      [2, 1, 0, 'unknown', null],
      [1, 0, 0, 'unknown', null],
      [1, 1, 0, 'unknown', 0.25],
    ]);
  });

  it('keeps holes null with --no-defaults, and prints JSON with --json', async () => {
    const entities = join(repo, 'holes.parquet');
    await data.write(entities, { user_id: 'BIGINT', event_timestamp: 'TIMESTAMP' }, [[2, T('11:00:00')], [3, T('11:00:00')]]);
    const out = join(repo, 'holes.csv');
    const run = await larder(['training', repo, '--entities', entities, '--features', 'user_stats:clicks,user_stats:country', '--out', out, '--no-defaults', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { rows: number; views: { outsideMaxAge: number; notFound: number }[] };
    expect(summary.rows).toBe(2);
    expect(summary.views[0]).toMatchObject({ outsideMaxAge: 1, notFound: 1 });
    const rows = (await data.conn.runAndReadAll(`SELECT clicks, country FROM read_csv('${out}', header = true, types = {'country': 'VARCHAR'})`)).getRowObjectsJS();
    expect(rows).toEqual([{ clicks: null, country: null }, { clicks: null, country: null }]);
  });

  it('exits 2 on bad options', async () => {
    const none = await larder(['training', repo, '--out', 'x.parquet', '--features', 'user_stats:clicks']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('LARDER_ERR_OPTION: --entities (or LARDER_ENTITIES) is required');
    const both = await larder(['training', repo, '--entities', 'e.csv', '--out', 'x.parquet']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give either --features <refs> or --feature-service <name>');
  });
});

describe('Arrow output', () => {
  it('writes lists, timestamps, dates and integers that read back as written', async () => {
    const dir = await tempDir();
    await data.write(join(dir, 'data', 'e.parquet'), { user_id: 'BIGINT', ts: 'TIMESTAMP', emb: 'FLOAT[]', tags: 'VARCHAR[]', seen: 'TIMESTAMP' }, [
      [1, T('10:00:00'), [0.5, -1.25], ['a', 'b'], T('09:30:00.123')],
    ]);
    await writeConfig(dir, {
      project: 'arrowout',
      entities: [{ name: 'user', joinKeys: ['user_id'] }],
      sources: [{ name: 's', path: 'data/e.parquet', timestampField: 'ts' }],
      featureViews: [{ name: 'v', entities: ['user'], source: 's', ttlSeconds: 0, features: [
        { name: 'emb', dtype: 'float32[]' }, { name: 'tags', dtype: 'string[]' }, { name: 'seen', dtype: 'timestamp' },
      ] }],
    });
    const entities = join(dir, 'entities.parquet');
    await data.write(entities, { user_id: 'BIGINT', event_timestamp: 'TIMESTAMP', day: 'DATE' }, [[1, '2024-01-01 11:00:00.000123', new Date('2024-01-01T00:00:00Z')], [2, T('11:00:00'), null]]);
    const out = join(dir, 'out.arrow');
    await buildTrainingSet({ repoDir: dir, entitiesFile: entities, features: ['v:*'], outFile: out });
    const table = tableFromIPC(await readFile(out));
    expect(table.schema.fields.map((f) => `${f.name}: ${f.type}`)).toEqual([
      'user_id: Int64', 'event_timestamp: Timestamp<MICROSECOND>', 'day: Date32<DAY>', 'emb: List<Float32>', 'tags: List<Utf8>', 'seen: Timestamp<MICROSECOND>',
    ]);
    const rows = table.toArray().map((r) => r.toJSON());
    expect(Number(rows[0]!.user_id)).toBe(1);
    // Microseconds pass through exactly.
    const micros = table.getChild('event_timestamp')!.data[0]!.values as BigInt64Array;
    expect(micros[0]).toBe(BigInt(T('11:00:00').getTime()) * 1000n + 123n);
    expect(rows[0]!.day).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect([...(rows[0]!.emb as Iterable<number>)]).toEqual([0.5, -1.25]);
    expect([...(rows[0]!.tags as Iterable<string>)]).toEqual(['a', 'b']);
    expect(rows[0]!.seen).toBe(T('09:30:00.123').getTime());
    expect([rows[1]!.emb, rows[1]!.tags, rows[1]!.seen, rows[1]!.day]).toEqual([null, null, null, null]);
  });
});

describe('training errors name what is wrong', () => {
  const attempt = async (schema: Record<string, string>, rows: unknown[][], features = ['user_stats:clicks', 'user_product:affinity'], out = 'o.parquet') => {
    const entities = join(repo, `bad-${Math.random().toString(36).slice(2)}.parquet`);
    await data.write(entities, schema, rows);
    return buildTrainingSet({ repoDir: repo, entitiesFile: entities, features, outFile: join(repo, out) }).then(
      () => 'no error',
      (e: Error) => e.message,
    );
  };

  it('a missing join key column, named with the view that needs it', async () => {
    const msg = await attempt({ user_id: 'BIGINT', event_timestamp: 'TIMESTAMP' }, [[1, T('10:00:00')]]);
    expect(msg).toContain('join key "product_id" (feature view "user_product") not found in');
    expect(msg).toContain('columns: user_id, event_timestamp');
  });

  it('a join key of the wrong type', async () => {
    const msg = await attempt({ user_id: 'VARCHAR', product_id: 'VARCHAR', event_timestamp: 'TIMESTAMP' }, [['1', 'p1', T('10:00:00')]]);
    expect(msg).toContain('join key "user_id" of');
    expect(msg).toContain('is VARCHAR, but feature view "user_stats" reads it as an integer type');
  });

  it('a missing or wrong-typed timestamp column', async () => {
    const missing = await attempt({ user_id: 'BIGINT', product_id: 'VARCHAR', ts: 'TIMESTAMP' }, [[1, 'p1', T('10:00:00')]]);
    expect(missing).toContain('timestamp column "event_timestamp" not found');
    expect(missing).toContain('--timestamp-column');
    const wrong = await attempt({ user_id: 'BIGINT', product_id: 'VARCHAR', event_timestamp: 'BIGINT' }, [[1, 'p1', 5]]);
    expect(wrong).toContain('timestamp column "event_timestamp" of');
    expect(wrong).toContain('is BIGINT, expected TIMESTAMP');
  });

  it('an unknown feature, a column name taken, an unknown output format', async () => {
    const row = [[1, 'p1', T('10:00:00')]];
    const schema = { user_id: 'BIGINT', product_id: 'VARCHAR', event_timestamp: 'TIMESTAMP' };
    expect(await attempt(schema, row, ['user_stats:nope'])).toBe('feature view "user_stats" has no feature "nope"');
    expect(await attempt({ ...schema, clicks: 'INTEGER' }, [[1, 'p1', T('10:00:00'), 1]], ['user_stats:clicks'])).toContain('already has a column "clicks"');
    expect(await attempt(schema, row, ['user_stats:clicks'], 'o.xlsx')).toContain('cannot tell the format from its extension');
  });
});

/**
 * Bad feature repos and bad data, through real config files and real data
 * files: every error names the config file, the view and the field (and the
 * data file when data is at fault), and no bundle is written.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LarderError } from '../../src/core/errors.js';
import { buildBundle } from '../../bundle-builder/build.js';
import { Binary, Float64, Int64, Table, TimestampMillisecond, vectorFromArray } from 'apache-arrow';
import { tempDir, writeArrow, writeConfig, useDataFiles } from './helpers.js';

type Repo = {
  project: string;
  entities: { name: string; joinKeys: string[] }[];
  sources: { name: string; path: string; timestampField: string; createdTimestampField?: string }[];
  featureViews: { name: string; entities: string[]; source: string; ttlSeconds: number; features: { name: string; dtype: string; default?: unknown }[] }[];
};

const validRepo = (): Repo => ({
  project: 'val',
  entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
  sources: [{ name: 'events', path: 'events.parquet', timestampField: 'event_ts' }],
  featureViews: [{
    name: 'stats', entities: ['driver'], source: 'events', ttlSeconds: 0,
    features: [{ name: 'rating', dtype: 'float64' }, { name: 'label', dtype: 'string' }],
  }],
});

const data = useDataFiles();

const SCHEMA = { driver_id: 'BIGINT', event_ts: 'TIMESTAMP', created: 'VARCHAR', rating: 'DOUBLE', label: 'VARCHAR', score: 'DOUBLE' };
const ROWS = [[1, new Date('2024-01-01T00:00:00Z'), 'x', 4.5, 'a', 1.5]];

async function repoDir(mutate: (r: Repo) => void, format: 'json' | 'ts' = 'json'): Promise<{ dir: string; file: string; dataFile: string }> {
  const dir = await tempDir();
  const dataFile = join(dir, 'events.parquet');
  await data.write(dataFile, SCHEMA, ROWS);
  const repo = validRepo();
  mutate(repo);
  const file = await writeConfig(dir, repo, format);
  return { dir, file, dataFile };
}

async function buildError(dir: string): Promise<LarderError> {
  const out = join(dir, 'out');
  const e = await buildBundle({ repoDir: dir, outDir: out, asOf: new Date('2024-02-01T00:00:00Z') }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LarderError);
  // Nothing written on failure.
  expect(await readdir(out).catch(() => [])).toEqual([]);
  return e as LarderError;
}

describe('config validation through real config files', () => {
  const cases: [string, (r: Repo) => void, RegExp[]][] = [
    ['unknown entity', (r) => (r.featureViews[0]!.entities = ['nobody']), [/feature view "stats"/, /field "entities": unknown entity "nobody"/]],
    ['unknown source', (r) => (r.featureViews[0]!.source = 'nowhere'), [/feature view "stats"/, /field "source": unknown source "nowhere"/]],
    ['duplicate view names', (r) => r.featureViews.push({ ...r.featureViews[0]! }), [/feature view "stats"/, /duplicate feature view name "stats"/]],
    ['duplicate feature names', (r) => r.featureViews[0]!.features.push({ name: 'rating', dtype: 'int64' }), [/feature view "stats", feature "rating"/, /duplicate feature name "rating"/]],
    ['duplicate entity names', (r) => r.entities.push({ name: 'driver', joinKeys: ['x'] }), [/entity "driver"/, /duplicate entity name/]],
    ['bad dtype', (r) => (r.featureViews[0]!.features[0]!.dtype = 'float16'), [/feature view "stats", feature "rating"/, /field "dtype": unknown dtype "float16"/]],
    ['default of the wrong type', (r) => (r.featureViews[0]!.features[0]!.default = 'high'), [/feature view "stats", feature "rating"/, /field "default": "high" is not a valid float64/]],
  ];
  for (const [name, mutate, patterns] of cases) {
    it(name, async () => {
      const { dir, file } = await repoDir(mutate);
      const e = await buildError(dir);
      expect(e.code).toBe('LARDER_ERR_CONFIG');
      expect(e.message).toContain(file);
      for (const p of patterns) expect(e.message).toMatch(p);
    });
  }

  it('fails on the config before reading any data (the data file is missing too)', async () => {
    const { dir, file } = await repoDir((r) => {
      r.featureViews[0]!.entities = ['nobody'];
      r.sources[0]!.path = 'missing.parquet';
    });
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_CONFIG');
    expect(e.message).toContain(file);
  });

  it('a TypeScript config reports the same way', async () => {
    const { dir, file } = await repoDir((r) => (r.featureViews[0]!.features[0]!.dtype = 'float16'), 'ts');
    const e = await buildError(dir);
    expect(file.endsWith('larder.config.ts')).toBe(true);
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/feature view "stats", feature "rating": field "dtype"/);
  });
});

describe('the repo checked against its data', () => {
  const cases: [string, (r: Repo) => void, (dataFile: string) => RegExp[]][] = [
    ['a feature that is not a column of its source', (r) => r.featureViews[0]!.features.push({ name: 'speed', dtype: 'float64' }),
      (f) => [/feature view "stats", feature "speed" \(float64\): column "speed" not found in /, new RegExp(esc(f))]],
    ['a column of the wrong type', (r) => (r.featureViews[0]!.features[1]!.dtype = 'int64'),
      (f) => [/feature view "stats", feature "label" \(int64\): column "label" of /, new RegExp(`${esc(f)} is VARCHAR, expected an integer type`)]],
    ['a float column declared bool', (r) => (r.featureViews[0]!.features[0]!.dtype = 'bool'),
      (f) => [/feature "rating" \(bool\)/, new RegExp(`${esc(f)} is DOUBLE, expected BOOLEAN`)]],
    ['a missing join key column', (r) => (r.entities[0]!.joinKeys = ['user_id']),
      (f) => [/feature view "stats", join key "user_id": column "user_id" not found in /, new RegExp(esc(f))]],
    ['a join key of a type keys cannot have', (r) => (r.entities[0]!.joinKeys = ['score']),
      (f) => [/feature view "stats", join key "score": column "score" of /, new RegExp(`${esc(f)} is DOUBLE, expected an integer type or VARCHAR`)]],
    ['an event timestamp field that is not a timestamp', (r) => (r.sources[0]!.timestampField = 'label'),
      (f) => [/feature view "stats", timestampField "label" \(source "events"\)/, new RegExp(`${esc(f)} is VARCHAR, expected TIMESTAMP`)]],
    ['a missing created timestamp field', (r) => (r.sources[0]!.createdTimestampField = 'created_at'),
      (f) => [/createdTimestampField "created_at"/, new RegExp(`not found in ${esc(f)}`)]],
  ];
  for (const [name, mutate, patterns] of cases) {
    it(name, async () => {
      const { dir, file, dataFile } = await repoDir(mutate);
      const e = await buildError(dir);
      expect(e.code).toBe('LARDER_ERR_CONFIG');
      expect(e.message).toContain(file);
      for (const p of patterns(dataFile)) expect(e.message).toMatch(p);
    });
  }

  it('a join key that is an integer in one file and text in another', async () => {
    const { dir, file } = await repoDir((r) => (r.sources[0]!.path = '*.parquet'));
    const other = join(dir, 'more.parquet');
    await data.write(other, { ...SCHEMA, driver_id: 'VARCHAR' }, [['d-1', new Date('2024-01-01T00:00:00Z'), 'x', 1, 'b', 2]]);
    const e = await buildError(dir);
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/feature view "stats", join key "driver_id": column "driver_id" is (BIGINT|VARCHAR) in .*\.parquet but/);
  });

  it('reports the problems of every view at once', async () => {
    const { dir } = await repoDir((r) => {
      r.featureViews[0]!.features.push({ name: 'speed', dtype: 'float64' });
      r.featureViews.push({ name: 'other', entities: ['driver'], source: 'events', ttlSeconds: 0, features: [{ name: 'label', dtype: 'bool' }] });
    });
    const e = await buildError(dir);
    expect(e.message).toMatch(/feature view "stats", feature "speed"/);
    expect(e.message).toMatch(/feature view "other", feature "label" \(bool\)/);
  });
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('unreadable data', () => {
  it('a missing file', async () => {
    const { dir, file } = await repoDir((r) => (r.sources[0]!.path = 'data/missing.parquet'));
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_SOURCE');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/source "events"/);
    expect(e.message).toContain(`file not found: ${join(dir, 'data', 'missing.parquet')}`);
    expect(e.message).toContain('(used by feature view "stats")');
  });

  it('a glob matching nothing', async () => {
    const { dir } = await repoDir((r) => (r.sources[0]!.path = 'data/*.parquet'));
    const e = await buildError(dir);
    expect(e.message).toContain(`no file matches ${join(dir, 'data', '*.parquet')}`);
  });

  it('a file of an unknown format', async () => {
    const { dir } = await repoDir((r) => (r.sources[0]!.path = 'events.xlsx'));
    await writeFile(join(dir, 'events.xlsx'), 'x');
    const e = await buildError(dir);
    expect(e.message).toMatch(/cannot tell the format of .*events\.xlsx/);
  });

  it('a garbage Parquet file among good ones, named', async () => {
    const { dir, file } = await repoDir((r) => (r.sources[0]!.path = '*.parquet'));
    const bad = join(dir, 'zz-garbage.parquet');
    await writeFile(bad, 'this is not parquet at all');
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_SOURCE');
    expect(e.message).toContain(file);
    expect(e.message).toContain(`cannot read ${bad}`);
  });

  it('a truncated Parquet file', async () => {
    const { dir, dataFile } = await repoDir(() => undefined);
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(dataFile);
    await writeFile(dataFile, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e = await buildError(dir);
    expect(e.message).toContain(`cannot read ${dataFile}`);
  });

  it('a garbage Arrow file', async () => {
    const { dir } = await repoDir((r) => (r.sources[0]!.path = 'events.arrow'));
    const bad = join(dir, 'events.arrow');
    await writeFile(bad, Buffer.from('ARROW1 but then garbage bytes follow here...'));
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_SOURCE');
    expect(e.message).toContain(`cannot read ${bad}`);
  });

  it('an Arrow column of a type larder cannot read, named with its Arrow type', async () => {
    const { dir, file } = await repoDir((r) => (r.sources[0]!.path = 'events.arrow'));
    const bad = join(dir, 'events.arrow');
    await writeArrow(bad, new Table({
      driver_id: vectorFromArray([1n], new Int64()),
      event_ts: vectorFromArray([new Date('2024-01-01T00:00:00Z')], new TimestampMillisecond()),
      rating: vectorFromArray([1.5], new Float64()),
      label: vectorFromArray([new Uint8Array([1, 2])], new Binary()),
    }));
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_CONFIG');
    expect(e.message).toContain(file);
    expect(e.message).toContain(`feature view "stats", feature "label" (string): column "label" of ${bad} is arrow Binary, expected VARCHAR`);
  });

  it('a CSV whose rows do not parse as the sniffed types', async () => {
    const { dir, file } = await repoDir((r) => (r.sources[0]!.path = 'events.csv'));
    const lines = ['driver_id,event_ts,rating,label'];
    for (let i = 0; i < 30000; i++) lines.push(`${i},2024-01-01 00:00:00,${i}.5,a`);
    lines.push('oops,2024-01-01 00:00:00,1.5,a'); // past DuckDB's sniffing sample
    await writeFile(join(dir, 'events.csv'), lines.join('\n') + '\n');
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_SOURCE');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/feature view "stats" \(source "events", .*events\.csv\)/);
  });

  it('an int64 value outside ±2^53, named with its view, feature and key', async () => {
    const { dir } = await repoDir((r) => r.featureViews[0]!.features.push({ name: 'huge', dtype: 'int64' }));
    await data.write(join(dir, 'events.parquet'), { driver_id: 'BIGINT', event_ts: 'TIMESTAMP', rating: 'DOUBLE', label: 'VARCHAR', huge: 'BIGINT' }, [
      [7, new Date('2024-01-01T00:00:00Z'), 1, 'a', 2n ** 60n],
    ]);
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_VALUE');
    expect(e.message).toMatch(/feature view "stats", feature "huge": value 1152921504606846976 of key "7" is outside ±2\^53/);
    expect(e.message).toMatch(/\(source "events", .*events\.parquet\)$/);
  });

  it('a string join key holding U+001F (the composite key separator)', async () => {
    const { dir } = await repoDir(() => undefined);
    await data.write(join(dir, 'events.parquet'), { driver_id: 'VARCHAR', event_ts: 'TIMESTAMP', rating: 'DOUBLE', label: 'VARCHAR' }, [
      ['a\u001fb', new Date('2024-01-01T00:00:00Z'), 1, 'a'],
    ]);
    const e = await buildError(dir);
    expect(e.code).toBe('LARDER_ERR_VALUE');
    expect(e.message).toMatch(/feature view "stats", join key "driver_id": value "a\\u001fb" contains U\+001F/);
  });
});

describe('buildBundle refuses arguments it cannot use', () => {
  it('with LARDER_ERR_ARGUMENT naming the argument', async () => {
    const { dir } = await repoDir(() => undefined);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ asOf: new Date(NaN) }, /buildBundle: asOf must be a valid Date/],
      [{ hotLimit: -1 }, /buildBundle: hotLimit must be an integer >= 0, got -1/],
      [{ hotLimit: 1.5 }, /hotLimit must be an integer >= 0, got 1.5/],
      [{ threads: 0 }, /buildBundle: threads must be an integer >= 1, got 0/],
    ];
    for (const [extra, message] of cases) {
      const e = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), ...extra }).then(() => undefined, (err: unknown) => err);
      expect(e, message.source).toBeInstanceOf(LarderError);
      expect((e as LarderError).code).toBe('LARDER_ERR_ARGUMENT');
      expect((e as LarderError).message).toMatch(message);
    }
  });
});

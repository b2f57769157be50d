/** The hot keys file: parsing, and how it limits a real build. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openBundle } from '../../src/bundle-file.js';
import { LarderError } from '../../src/core/errors.js';
import { buildBundle } from '../../bundle-builder/build.js';
import { hotKeysForView, parseHotKeys, splitFields } from '../../bundle-builder/hot-keys.js';
import { tempDir, writeConfig, useDataFiles } from './helpers.js';

const COLUMNS = new Set(['driver_id', 'city']);

describe('parseHotKeys', () => {
  it('plain lines keep file order; --hot-limit keeps the first N; repeats merge', () => {
    const hot = parseHotKeys('# comment\n3\n1\n\n3\n2\n', 'f', COLUMNS, 2);
    expect(hot).toEqual({ file: 'f', columns: null, counted: false, distinct: 3, keys: [['3'], ['1']] });
  });

  it('key,count lines keep the top counts (ties in file order, repeats add up)', () => {
    const hot = parseHotKeys('a,5\nb,10\nc,7\na,6\nd,7\n', 'f', COLUMNS, 3);
    expect(hot.counted).toBe(true);
    expect(hot.keys).toEqual([['a'], ['b'], ['c']]); // a=11, b=10, c=7 before d=7
    expect(parseHotKeys('a,5\nb,10\n', 'f', COLUMNS, Infinity).keys).toEqual([['b'], ['a']]);
  });

  it('a header names the join key columns, for composite keys, with or without counts', () => {
    const hot = parseHotKeys('city,driver_id,count\nParis,1,5\n"Saint-Denis, FR",2,9\n', 'f', COLUMNS, Infinity);
    expect(hot.columns).toEqual(['city', 'driver_id']);
    expect(hot.keys).toEqual([['Saint-Denis, FR', '2'], ['Paris', '1']]);
    // Parts come out in each view's join key order.
    expect(hotKeysForView(hot, ['driver_id', 'city'])).toEqual([['2', 'Saint-Denis, FR'], ['1', 'Paris']]);
    expect(hotKeysForView(hot, ['driver_id'])).toBeUndefined();
    const plainHeader = parseHotKeys('driver_id\n7\n8\n', 'f', COLUMNS, Infinity);
    expect(plainHeader).toMatchObject({ columns: ['driver_id'], counted: false, keys: [['7'], ['8']] });
    expect(hotKeysForView(plainHeader, ['city'])).toBeUndefined();
  });

  it('without a header, applies to views with one join key', () => {
    const hot = parseHotKeys('7\n', 'f', COLUMNS, Infinity);
    expect(hotKeysForView(hot, ['driver_id'])).toEqual([['7']]);
    expect(hotKeysForView(hot, ['city', 'driver_id'])).toBeUndefined();
  });

  it('splits quoted fields', () => {
    expect(splitFields('a, "b,c" ,"d""e"')).toEqual(['a', 'b,c', 'd"e']);
    expect(splitFields('"open')).toBeUndefined();
  });

  it('rejects malformed files with the file and line', () => {
    const bad = (text: string) => {
      try {
        parseHotKeys(text, 'hot.csv', COLUMNS, Infinity);
      } catch (e) {
        expect(e).toBeInstanceOf(LarderError);
        return (e as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(bad('a,b\n')).toMatch(/hot keys file hot\.csv, line 1: expected "key" or "key,count" lines \(or a header line/);
    expect(bad('a,1\nb\n')).toMatch(/line 2: expected 2 fields/);
    expect(bad('a,1\nb,many\n')).toMatch(/line 2: count "many" is not a number/);
    expect(bad('city,driver_id\nParis\n')).toMatch(/line 2: expected 2 fields like the header/);
    expect(bad('count,count\n')).toMatch(/line 1: header names "count" twice/);
    expect(bad('"x\n')).toMatch(/line 1: unterminated quoted field/);
  });
});

const data = useDataFiles();

const DAY = 86_400_000;
const BASE = Date.UTC(2024, 0, 1);

/** Drivers 1..10 (driver i last updated on day i) and (city, driver) pairs. */
async function repo(): Promise<string> {
  const dir = await tempDir();
  await data.write(join(dir, 'drivers.parquet'), { driver_id: 'BIGINT', ts: 'TIMESTAMP', x: 'BIGINT' },
    Array.from({ length: 10 }, (_, i) => [i + 1, new Date(BASE + (i + 1) * DAY), (i + 1) * 10]));
  await data.write(join(dir, 'pairs.parquet'), { city: 'VARCHAR', driver_id: 'BIGINT', ts: 'TIMESTAMP', y: 'VARCHAR' }, [
    ['Paris', 1, new Date(BASE), 'p1'], ['Paris', 2, new Date(BASE), 'p2'], ['Rome', 1, new Date(BASE), 'r1'],
  ]);
  await writeConfig(dir, {
    project: 'hot',
    entities: [{ name: 'driver', joinKeys: ['driver_id'] }, { name: 'city', joinKeys: ['city'] }],
    sources: [{ name: 'd', path: 'drivers.parquet', timestampField: 'ts' }, { name: 'p', path: 'pairs.parquet', timestampField: 'ts' }],
    featureViews: [
      { name: 'drivers', entities: ['driver'], source: 'd', ttlSeconds: 0, features: [{ name: 'x', dtype: 'int64', default: 0 }] },
      { name: 'pairs', entities: ['city', 'driver'], source: 'p', ttlSeconds: 0, features: [{ name: 'y', dtype: 'string' }] },
    ],
  });
  return dir;
}

async function build(dir: string, opts: { hotKeys?: string; hotLimit?: number; asOf?: Date } = {}) {
  let hotKeysFile: string | undefined;
  if (opts.hotKeys !== undefined) {
    hotKeysFile = join(dir, 'hot.csv');
    await writeFile(hotKeysFile, opts.hotKeys);
  }
  const result = await buildBundle({
    repoDir: dir, outDir: join(dir, 'out'), asOf: opts.asOf ?? new Date(BASE + 100 * DAY), hotKeysFile, hotLimit: opts.hotLimit,
  });
  const bundle = await openBundle(result.path);
  const keysOf = (view: string, candidates: (number | [string, number])[]) => candidates.filter((k) => bundle.get(view, k) !== undefined);
  return { result, bundle, keysOf };
}

const DRIVERS = Array.from({ length: 12 }, (_, i) => i + 1);
const PAIRS: [string, number][] = [['Paris', 1], ['Paris', 2], ['Rome', 1]];

describe('hot keys in a build', () => {
  it('a plain file limits single-key views; views with other join keys keep all keys and say so', async () => {
    const dir = await repo();
    const { result, keysOf, bundle } = await build(dir, { hotKeys: '3\n5\n11\n' });
    expect(keysOf('drivers', DRIVERS)).toEqual([3, 5]);
    expect(keysOf('pairs', PAIRS)).toEqual(PAIRS);
    expect(result.views.map((v) => [v.name, v.hotKeys])).toEqual([['drivers', { listed: 3, found: 2 }], ['pairs', 'file does not apply']]);
    expect(bundle.manifest.warnings).toEqual([expect.stringMatching(/hot keys file .*hot\.csv does not apply to "pairs"/)]);
  });

  it('key,count with --hot-limit keeps the top counts', async () => {
    const dir = await repo();
    const { keysOf } = await build(dir, { hotKeys: '1,5\n2,50\n3,20\n4,1\n', hotLimit: 2 });
    expect(keysOf('drivers', DRIVERS)).toEqual([2, 3]);
  });

  it('plain lines with --hot-limit keep the first N; views the file does not apply to keep all keys', async () => {
    const dir = await repo();
    const { keysOf } = await build(dir, { hotKeys: '9\n1\n4\n', hotLimit: 2 });
    expect(keysOf('drivers', DRIVERS)).toEqual([1, 9]);
    expect(keysOf('pairs', PAIRS)).toEqual(PAIRS);
  });

  it('a header selects composite-key views', async () => {
    const dir = await repo();
    const { result, keysOf } = await build(dir, { hotKeys: 'driver_id,city\n1,Rome\n2,Paris\n' });
    expect(keysOf('pairs', PAIRS)).toEqual([['Paris', 2], ['Rome', 1]]);
    expect(keysOf('drivers', DRIVERS)).toEqual(DRIVERS.slice(0, 10));
    expect(result.views[1]!.hotKeys).toEqual({ listed: 2, found: 2 });
  });

  it('--hot-limit 0 gives a bundle with the definitions and no keys', async () => {
    const dir = await repo();
    const { result, bundle } = await build(dir, { hotLimit: 0 });
    expect(result.views.map((v) => v.keys)).toEqual([0, 0]);
    expect(bundle.manifest.views.map((v) => v.keyCount)).toEqual([0, 0]);
    expect(bundle.manifest.repo.featureViews.map((v) => v.name)).toEqual(['drivers', 'pairs']);
    const res = bundle.getOnlineFeatures({ features: ['drivers:x'], entities: { driver_id: [1] } });
    expect(res.results[1]).toEqual({ values: [0], statuses: ['NOT_FOUND'], event_timestamps: ['1970-01-01T00:00:00Z'] });
  });

  it('--hot-limit without a file keeps the most recently updated keys', async () => {
    const dir = await repo();
    const { keysOf, result } = await build(dir, { hotLimit: 3 });
    expect(keysOf('drivers', DRIVERS)).toEqual([8, 9, 10]);
    expect(result.views[0]!.hotKeys).toBe('limit');
  });

  it('an --as-of before all data gives empty views that still read as NOT_FOUND with defaults', async () => {
    const dir = await repo();
    const { result, bundle } = await build(dir, { asOf: new Date(BASE - DAY) });
    expect(result.views.map((v) => [v.keys, v.sourceRows, v.visibleRows])).toEqual([[0, 10, 0], [0, 3, 0]]);
    expect(bundle.manifest.views.map((v) => v.keyCount)).toEqual([0, 0]);
    const res = bundle.getOnlineFeatures({ features: ['drivers:x'], entities: { driver_id: [1, 2] } });
    expect(res.results[1]!.statuses).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(res.results[1]!.values).toEqual([0, 0]);
  });

  it('a missing hot keys file is an error naming it', async () => {
    const dir = await repo();
    const e = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), hotKeysFile: join(dir, 'nope.csv') }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(LarderError);
    expect((e as Error).message).toMatch(/hot keys file .*nope\.csv: file not found/);
  });
});

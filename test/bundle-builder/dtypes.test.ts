/**
 * Every dtype (with nulls, embeddings and lists) and composite keys, from
 * Parquet, CSV and Arrow IPC sources, through globs over several files:
 * build, open, and read back exactly the values written.
 */
import { join } from 'node:path';
import {
  Bool, DateDay, Dictionary, Field, FixedSizeList, Float32, Float64, Int32, Int64, List, Table, TimestampMillisecond, Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { openBundle } from '../../src/bundle-file.js';
import { buildBundle } from '../../bundle-builder/build.js';
import { feastTime, tempDir, writeArrow, writeConfig, useDataFiles } from './helpers.js';

const T = (iso: string) => new Date(iso);

interface Logical {
  city: string;
  driver_id: number;
  event_ts: Date;
  trips: number | null;
  big: number | null;
  rating: number | null;
  score: number | null;
  name: string | null;
  active: boolean | null;
  last_trip: Date | null;
  signup: Date | null;
  emb: (number | null)[] | null;
  tags: (string | null)[] | null;
  counts: number[] | null;
}

const LATEST: Logical = {
  city: 'Paris', driver_id: 1, event_ts: T('2024-01-01T10:00:00Z'),
  trips: 5, big: 9007199254740991, rating: 4.7, score: 0.1, name: 'Zoë', active: true,
  last_trip: T('2024-01-01T09:30:00.123Z'), signup: T('2023-05-01T00:00:00Z'),
  emb: [0.5, -1.25, 3], tags: ['x', 'y'], counts: [1, -2, 3],
};
const OLDER: Logical = { ...LATEST, event_ts: T('2024-01-01T09:00:00Z'), trips: 1, name: 'old' };
const ALL_NULL: Logical = {
  city: 'Berlin', driver_id: 1, event_ts: T('2024-01-01T08:00:00Z'),
  trips: null, big: null, rating: null, score: null, name: null, active: null, last_trip: null, signup: null, emb: null, tags: null, counts: null,
};
const EDGES: Logical = {
  city: 'Paris', driver_id: 2, event_ts: T('2024-01-01T07:00:00Z'),
  trips: 0, big: -9007199254740991, rating: -2.5, score: 1e300, name: 'a much longer string than twelve bytes', active: false,
  last_trip: T('1970-01-01T00:00:00Z'), signup: T('2000-02-29T00:00:00Z'), emb: [], tags: [], counts: [],
};
/** Lists holding nulls: not expressible in CSV text, so Parquet and Arrow only. */
const NULL_ELEMENTS: Logical = { ...EDGES, city: 'Lyon', driver_id: 3, emb: [1, null, 2], tags: ['a', null], counts: [7] };

const FEATURES = [
  { name: 'trips', dtype: 'int64' },
  { name: 'big', dtype: 'int64' },
  { name: 'rating', dtype: 'float32' },
  { name: 'score', dtype: 'float64' },
  { name: 'name', dtype: 'string' },
  { name: 'active', dtype: 'bool' },
  { name: 'last_trip', dtype: 'timestamp' },
  { name: 'signup', dtype: 'timestamp' },
  { name: 'emb', dtype: 'float32[]' },
  { name: 'tags', dtype: 'string[]' },
  { name: 'counts', dtype: 'int64[]' },
] as const;

function repo(path: string) {
  return {
    project: 'types',
    entities: [{ name: 'city', joinKeys: ['city'] }, { name: 'driver', joinKeys: ['driver_id'] }],
    sources: [{ name: 'trips', path, timestampField: 'event_ts' }],
    featureViews: [{ name: 'v', entities: ['city', 'driver'], source: 'trips', ttlSeconds: 0, features: FEATURES }],
  };
}

/** What a read returns for a logical row: floats at float32 precision, timestamps as RFC 3339. */
function readBack(r: Logical): Record<string, unknown> {
  return {
    trips: r.trips,
    big: r.big,
    rating: r.rating === null ? null : Math.fround(r.rating),
    score: r.score,
    name: r.name,
    active: r.active,
    last_trip: r.last_trip && feastTime(r.last_trip.getTime()),
    signup: r.signup && feastTime(r.signup.getTime()),
    emb: r.emb && r.emb.map((x) => (x === null ? null : Math.fround(x))),
    tags: r.tags,
    counts: r.counts,
  };
}

const SQL_SCHEMA = {
  city: 'VARCHAR', driver_id: 'BIGINT', event_ts: 'TIMESTAMP',
  trips: 'INTEGER', big: 'BIGINT', rating: 'FLOAT', score: 'DOUBLE', name: 'VARCHAR', active: 'BOOLEAN',
  last_trip: 'TIMESTAMPTZ', signup: 'DATE', emb: 'FLOAT[]', tags: 'VARCHAR[]', counts: 'BIGINT[]',
};
const sqlRow = (r: Logical) => [
  r.city, r.driver_id, r.event_ts, r.trips, r.big, r.rating, r.score, r.name, r.active, r.last_trip,
  r.signup && r.signup.toISOString().slice(0, 10), r.emb, r.tags, r.counts,
];

function arrowTable(rows: Logical[]): Table {
  const f32 = new Field('item', new Float32(), true);
  const col = <T>(pick: (r: Logical) => T) => rows.map(pick);
  return new Table({
    city: vectorFromArray(col((r) => r.city), new Dictionary(new Utf8(), new Int32())),
    driver_id: vectorFromArray(col((r) => BigInt(r.driver_id)), new Int64()),
    event_ts: vectorFromArray(col((r) => r.event_ts), new TimestampMillisecond()),
    trips: vectorFromArray(col((r) => r.trips), new Int32()),
    big: vectorFromArray(col((r) => (r.big === null ? null : BigInt(r.big))), new Int64()),
    rating: vectorFromArray(col((r) => r.rating), new Float32()),
    score: vectorFromArray(col((r) => r.score), new Float64()),
    name: vectorFromArray(col((r) => r.name), new Utf8()),
    active: vectorFromArray(col((r) => r.active), new Bool()),
    last_trip: vectorFromArray(col((r) => r.last_trip), new TimestampMillisecond('UTC')),
    signup: vectorFromArray(col((r) => r.signup), new DateDay()),
    emb: vectorFromArray(col((r) => r.emb), new List(f32)),
    tags: vectorFromArray(col((r) => r.tags), new List(new Field('item', new Utf8(), true))),
    counts: vectorFromArray(col((r) => r.counts?.map(BigInt) ?? null), new List(new Field('item', new Int64(), true))),
  });
}

const data = useDataFiles();

async function buildAndOpen(dir: string) {
  const result = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), asOf: T('2024-02-01T00:00:00Z') });
  return { result, bundle: await openBundle(result.path) };
}

async function expectRoundTrip(dir: string, rows: Logical[]) {
  const { result, bundle } = await buildAndOpen(dir);
  const expectedRows = rows.filter((r) => r !== OLDER);
  expect(result.views[0]!.keys).toBe(expectedRows.length);
  expect(bundle.manifest.views[0]!.joinKeys).toEqual([{ name: 'city', dtype: 'string' }, { name: 'driver_id', dtype: 'int64' }]);
  for (const r of expectedRows) {
    expect({ key: [r.city, r.driver_id], values: bundle.get('v', [r.city, r.driver_id]) }).toEqual({ key: [r.city, r.driver_id], values: readBack(r) });
  }
  // Statuses and event times through Feast's API, composite key given in any order.
  const res = bundle.getOnlineFeatures(
    { features: ['v:trips', 'v:emb'], entities: { driver_id: [1, 1, 1], city: ['Paris', 'Berlin', 'Rome'] } },
    { now: T('2024-02-01T00:00:00Z') },
  );
  expect(res.results[2]).toEqual({
    values: [5, null, null],
    statuses: ['PRESENT', 'NULL_VALUE', 'NOT_FOUND'],
    event_timestamps: ['2024-01-01T10:00:00Z', '2024-01-01T08:00:00Z', '1970-01-01T00:00:00Z'],
  });
  expect(res.results[3]!.values).toEqual([[0.5, -1.25, 3], null, null]);
  return bundle;
}

describe('dtypes and composite keys', () => {
  it('Parquet: every dtype, nulls, lists with null elements, over a glob of two files', async () => {
    const dir = await tempDir();
    await data.write(join(dir, 'data', 'a.parquet'), SQL_SCHEMA, [LATEST, ALL_NULL].map(sqlRow));
    await data.write(join(dir, 'data', 'b.parquet'), SQL_SCHEMA, [OLDER, EDGES, NULL_ELEMENTS].map(sqlRow));
    await writeConfig(dir, repo('data/*.parquet'));
    const bundle = await expectRoundTrip(dir, [LATEST, ALL_NULL, OLDER, EDGES, NULL_ELEMENTS]);
    const stats = bundle.manifest.views[0]!.features;
    expect(stats.trips).toMatchObject({ count: 4, nullCount: 1, min: 0, max: 5 });
  });

  it('Parquet: fixed-size arrays, DECIMAL, TIMESTAMP_NS and small integer types fit their dtypes', async () => {
    const dir = await tempDir();
    const schema = {
      city: 'VARCHAR', driver_id: 'INTEGER', event_ts: 'TIMESTAMP_NS',
      trips: 'SMALLINT', big: 'UINTEGER', rating: 'DOUBLE', score: 'DECIMAL(10,2)', name: 'VARCHAR', active: 'BOOLEAN',
      last_trip: 'TIMESTAMP_MS', signup: 'TIMESTAMP_S', emb: 'FLOAT[3]', tags: 'VARCHAR[2]', counts: 'INTEGER[]',
    };
    await data.write(join(dir, 'd.parquet'), schema, [[
      'Paris', 1, T('2024-01-01T10:00:00Z'), 5, 4000000000, 4.7, 12.25, 'n', true, T('2024-01-01T09:30:00.123Z'), T('2023-05-01T00:00:00Z'),
      [0.5, -1.25, 3], ['x', 'y'], [1, -2, 3],
    ]]);
    await writeConfig(dir, repo('d.parquet'));
    const { bundle } = await buildAndOpen(dir);
    expect(bundle.get('v', ['Paris', 1])).toEqual({
      ...readBack(LATEST), big: 4000000000, score: 12.25, name: 'n',
    });
  });

  it('CSV: every dtype from text (lists as "[...]"), over a glob of two files', async () => {
    const dir = await tempDir();
    const csvRows = [LATEST, ALL_NULL, OLDER, EDGES];
    await data.write(join(dir, 'data', 'a.csv'), SQL_SCHEMA, [LATEST, ALL_NULL].map(sqlRow));
    await data.write(join(dir, 'data', 'b.csv'), SQL_SCHEMA, [OLDER, EDGES].map(sqlRow));
    await writeConfig(dir, repo('data/*.csv'));
    await expectRoundTrip(dir, csvRows);
  });

  it('Arrow IPC: every dtype (dictionary strings, fixed-size lists, dates, zoned timestamps), over two files', async () => {
    const dir = await tempDir();
    await writeArrow(join(dir, 'data', 'a.arrow'), arrowTable([LATEST, ALL_NULL]));
    await writeArrow(join(dir, 'data', 'b.arrow'), arrowTable([OLDER, EDGES, NULL_ELEMENTS]));
    await writeConfig(dir, repo('data/*.arrow'));
    await expectRoundTrip(dir, [LATEST, ALL_NULL, OLDER, EDGES, NULL_ELEMENTS]);

    // A fixed-size list column feeds float32[] too.
    const dir2 = await tempDir();
    await writeArrow(join(dir2, 'e.feather'), new Table({
      city: vectorFromArray(['Paris'], new Utf8()),
      driver_id: vectorFromArray([1], new Int32()),
      event_ts: vectorFromArray([T('2024-01-01T10:00:00Z')], new TimestampMillisecond()),
      emb: vectorFromArray([[1, 2]], new FixedSizeList(2, new Field('item', new Float32(), true))),
    }));
    await writeConfig(dir2, {
      ...repo('e.feather'),
      featureViews: [{ name: 'v', entities: ['city', 'driver'], source: 'trips', ttlSeconds: 0, features: [{ name: 'emb', dtype: 'float32[]' }] }],
    });
    const { bundle } = await buildAndOpen(dir2);
    expect(bundle.get('v', ['Paris', 1])).toEqual({ emb: [1, 2] });
  });

  it('CSV: equal event times are decided by source position, file name then row, and counted', async () => {
    const dir = await tempDir();
    const schema = { driver_id: 'BIGINT', event_ts: 'TIMESTAMP', v: 'VARCHAR' };
    const t = T('2024-01-01T00:00:00Z');
    await data.write(join(dir, 'data', 'a.csv'), schema, [[1, t, 'a1'], [2, t, 'a2-first'], [2, t, 'a2-second']]);
    await data.write(join(dir, 'data', 'b.csv'), schema, [[1, t, 'b1'], [3, t, 'b3']]);
    await writeConfig(dir, {
      project: 'ties',
      entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
      sources: [{ name: 's', path: 'data/*.csv', timestampField: 'event_ts' }],
      featureViews: [{ name: 'v', entities: ['driver'], source: 's', ttlSeconds: 0, features: [{ name: 'v', dtype: 'string' }] }],
    });
    const { result, bundle } = await buildAndOpen(dir);
    expect([1, 2, 3].map((k) => bundle.get('v', k)?.v)).toEqual(['b1', 'a2-second', 'b3']);
    expect(result.views[0]!.ties).toBe(2);
    expect(bundle.manifest.warnings).toEqual([expect.stringMatching(/feature view "v": for 2 keys .*equal event and created timestamps/)]);
  });

  it('string join keys and several views over one source', async () => {
    const dir = await tempDir();
    await data.write(join(dir, 'u.parquet'), { user: 'VARCHAR', ts: 'TIMESTAMP', clicks: 'BIGINT', spend: 'DOUBLE' }, [
      ['u-1', T('2024-01-01T00:00:00Z'), 3, 1.5],
      ['ü/2', T('2024-01-01T00:00:00Z'), 4, null],
    ]);
    await writeConfig(dir, {
      project: 'users',
      entities: [{ name: 'user', joinKeys: ['user'] }],
      sources: [{ name: 's', path: 'u.parquet', timestampField: 'ts' }],
      featureViews: [
        { name: 'clicks', entities: ['user'], source: 's', ttlSeconds: 60, features: [{ name: 'clicks', dtype: 'int64' }] },
        { name: 'spend', entities: ['user'], source: 's', ttlSeconds: 0, features: [{ name: 'spend', dtype: 'float64', default: 0 }] },
        { name: 'offline_only', entities: ['user'], source: 's', ttlSeconds: 0, online: false, features: [{ name: 'spend', dtype: 'float64' }] },
      ],
    });
    const { bundle } = await buildAndOpen(dir);
    expect(bundle.manifest.views.map((v) => v.name)).toEqual(['clicks', 'spend']);
    expect(bundle.manifest.views[0]!.joinKeys).toEqual([{ name: 'user', dtype: 'string' }]);
    expect(bundle.get('clicks', 'ü/2')).toEqual({ clicks: 4 });
    expect(bundle.get('spend', 'u-1')).toEqual({ spend: 1.5 });
    expect(bundle.get('spend', 'ü/2')).toEqual({ spend: null });
  });

  it('integer join keys of every width, over many DuckDB chunks, with nulls spread through', async () => {
    const dir = await tempDir();
    const n = 5000; // more than two 2048-row chunks
    for (const [file, type] of [['small.parquet', 'SMALLINT'], ['int.parquet', 'INTEGER'], ['ubig.parquet', 'UBIGINT']] as const) {
      await data.conn.run(`COPY (SELECT CAST(i AS ${type}) AS id, TIMESTAMP '2024-01-01' + to_seconds(i) AS ts,
          CASE WHEN i % 7 = 0 THEN NULL ELSE i * 0.5 END AS x,
          CASE WHEN i % 5 = 0 THEN NULL ELSE 's' || i END AS s
        FROM range(${n}) t(i)) TO '${join(dir, file)}' (FORMAT parquet)`);
    }
    await writeConfig(dir, {
      project: 'wide',
      entities: [{ name: 'e', joinKeys: ['id'] }],
      sources: ['small', 'int', 'ubig'].map((name) => ({ name, path: `${name}.parquet`, timestampField: 'ts' })),
      featureViews: ['small', 'int', 'ubig'].map((name) => ({
        name, entities: ['e'], source: name, ttlSeconds: 0,
        features: [{ name: 'x', dtype: 'float64' }, { name: 's', dtype: 'string' }],
      })),
    });
    const { result, bundle } = await buildAndOpen(dir);
    expect(result.views.map((v) => v.keys)).toEqual([n, n, n]);
    for (const view of ['small', 'int', 'ubig']) {
      expect(bundle.manifest.views.find((v) => v.name === view)!.joinKeys).toEqual([{ name: 'id', dtype: 'int64' }]);
      for (let i = 0; i < n; i++) {
        const got = bundle.get(view, i);
        if (!got || got.x !== (i % 7 === 0 ? null : i * 0.5) || got.s !== (i % 5 === 0 ? null : `s${i}`)) {
          expect({ view, i, got }).toEqual({ view, i, got: { x: i % 7 === 0 ? null : i * 0.5, s: i % 5 === 0 ? null : `s${i}` } });
        }
      }
    }
  });
});

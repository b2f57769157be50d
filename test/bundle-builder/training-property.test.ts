/**
 * Training sets equal the TypeScript rule (src/core/asof.ts, the code the
 * sidecar runs) on random data, and so cannot leak: random source rows with
 * tied event and created times, equal keys at many times and null values,
 * spread over several Parquet or Arrow files; random entity rows (keys
 * without data, times before all data, on TTL edges, null times) in Parquet,
 * CSV or Arrow; random TTL, defaults on or off, and every output format.
 * Each row's value must be valueAt(winnerAt(rows, t)), and the rows and
 * their pass-through columns must keep the entities file's order.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Float64, Int32, Int64, Table, TimestampMillisecond, Utf8, type Vector, tableFromIPC, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { type Candidate, DEFAULT_VALUE_RULE, statusAt, valueAt, winnerAt } from '../../src/core/asof.js';
import { buildTrainingSet } from '../../bundle-builder/training.js';
import { tempDir, useDataFiles, writeArrow, writeConfig } from './helpers.js';

const BASE_MS = Date.UTC(2024, 0, 1);
const SEC = 1000;
const RATING_DEFAULT = -1;
const SCORE_DEFAULT = 0.5;

interface SourceRow {
  key: number;
  eventSec: number;
  createdSec: number | null;
  rating: number | null;
  score: number | null;
  label: string | null;
}

interface EntityRow {
  key: number;
  /** null: no time. */
  tSec: number | null;
}

interface Case {
  format: 'parquet' | 'arrow';
  withCreated: boolean;
  files: SourceRow[][];
  ttlSeconds: number;
  entities: EntityRow[];
  entitiesFormat: 'parquet' | 'csv' | 'arrow';
  outFormat: 'parquet' | 'csv' | 'arrow';
  defaults: boolean;
  fullNames: boolean;
}

const rowArb = fc.record({
  key: fc.constantFrom(0, 1, 2, 3),
  eventSec: fc.integer({ min: 0, max: 5 }),
  createdSec: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
  rating: fc.option(fc.integer({ min: -50, max: 50 }).map((n) => n / 4), { nil: null }),
  score: fc.option(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { nil: null }),
  label: fc.option(fc.constantFrom('a', 'b', 'ü', 'long label over twelve bytes'), { nil: null }),
});

const caseArb: fc.Arbitrary<Case> = fc.record({
  format: fc.constantFrom<'parquet' | 'arrow'>('parquet', 'arrow'),
  withCreated: fc.boolean(),
  files: fc.array(fc.array(rowArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
  ttlSeconds: fc.constantFrom(0, 1, 2, 5),
  // Key 4 never has data; times before, among and after the data, and null.
  entities: fc.array(fc.record({ key: fc.constantFrom(0, 1, 2, 3, 4), tSec: fc.option(fc.integer({ min: -1, max: 9 }), { nil: null, freq: 8 }) }), { minLength: 1, maxLength: 25 }),
  entitiesFormat: fc.constantFrom<'parquet' | 'csv' | 'arrow'>('parquet', 'csv', 'arrow'),
  outFormat: fc.constantFrom<'parquet' | 'csv' | 'arrow'>('parquet', 'csv', 'arrow'),
  defaults: fc.boolean(),
  fullNames: fc.boolean(),
}).map((c) =>
  // A CSV column with no value at all reads as VARCHAR (a clear error, tested elsewhere): keep one time.
  c.entities.every((e) => e.tSec === null) ? { ...c, entities: [{ ...c.entities[0]!, tSec: 3 }, ...c.entities.slice(1)] } : c,
);

const ms = (sec: number) => BASE_MS + sec * SEC;

/** The rule's answer for one entity row, by brute force over every source row of its key. */
function expectedRow(c: Case, e: EntityRow): { rating: unknown; score: unknown; label: unknown } {
  const candidates: (Candidate & { row: SourceRow })[] = [];
  c.files.forEach((rows, file) =>
    rows.forEach((row, index) => {
      if (row.key !== e.key) return;
      candidates.push({ row, eventTsMs: ms(row.eventSec), createdTsMs: c.withCreated && row.createdSec !== null ? ms(row.createdSec) : null, position: file * 1_000_000 + index });
    }),
  );
  const won = e.tSec === null ? undefined : winnerAt(candidates, ms(e.tSec));
  const value = (stored: unknown, fallback: unknown) => {
    if (!won) return valueAt(null, 'NOT_FOUND', c.defaults ? fallback : undefined, DEFAULT_VALUE_RULE);
    // No leakage: the rule's winner is never after the row's time.
    expect(won.row.eventTsMs).toBeLessThanOrEqual(ms(e.tSec!));
    const status = statusAt(won.row.eventTsMs, stored, ms(e.tSec!), c.ttlSeconds);
    return valueAt(stored, status, c.defaults ? fallback : undefined, DEFAULT_VALUE_RULE);
  };
  const w = won?.row.row;
  const score = value(w?.score ?? null, SCORE_DEFAULT);
  return { rating: value(w?.rating ?? null, RATING_DEFAULT), score: score === null ? null : Math.fround(score as number), label: value(w?.label ?? null, undefined) };
}

const data = useDataFiles();

async function writeCase(dir: string, c: Case): Promise<string> {
  const ext = c.format === 'parquet' ? 'parquet' : 'arrow';
  const ts = (sec: number | null) => (sec === null ? null : new Date(ms(sec)));
  for (const [i, rows] of c.files.entries()) {
    const file = join(dir, 'data', `part-${i}.${ext}`);
    if (c.format === 'parquet') {
      const schema: Record<string, string> = { driver_id: 'BIGINT', event_ts: 'TIMESTAMP' };
      if (c.withCreated) schema.created_ts = 'TIMESTAMP';
      Object.assign(schema, { rating: 'DOUBLE', score: 'DOUBLE', label: 'VARCHAR' });
      await data.write(file, schema, rows.map((r) => [r.key, ts(r.eventSec), ...(c.withCreated ? [ts(r.createdSec)] : []), r.rating, r.score, r.label]));
    } else {
      const cols: Record<string, Vector> = {
        driver_id: vectorFromArray(rows.map((r) => BigInt(r.key)), new Int64()),
        event_ts: vectorFromArray(rows.map((r) => ms(r.eventSec)), new TimestampMillisecond()),
      };
      if (c.withCreated) cols.created_ts = vectorFromArray(rows.map((r) => (r.createdSec === null ? null : ms(r.createdSec))), new TimestampMillisecond());
      cols.rating = vectorFromArray(rows.map((r) => r.rating), new Float64());
      cols.score = vectorFromArray(rows.map((r) => r.score), new Float64());
      cols.label = vectorFromArray(rows.map((r) => r.label), new Utf8());
      await writeArrow(file, new Table(cols));
    }
  }
  await writeConfig(dir, {
    project: 'prop',
    entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
    sources: [{ name: 'events', path: `data/*.${ext}`, timestampField: 'event_ts', ...(c.withCreated ? { createdTimestampField: 'created_ts' } : {}) }],
    featureViews: [{
      name: 'stats', entities: ['driver'], source: 'events', ttlSeconds: c.ttlSeconds,
      features: [
        { name: 'rating', dtype: 'float64', default: RATING_DEFAULT },
        { name: 'score', dtype: 'float32', default: SCORE_DEFAULT },
        { name: 'label', dtype: 'string' },
      ],
    }],
  });
  // The entities: the join key, the time, a row id and a label that must pass through.
  const entitiesFile = join(dir, `entities.${c.entitiesFormat}`);
  if (c.entitiesFormat === 'arrow') {
    await writeArrow(entitiesFile, new Table({
      driver_id: vectorFromArray(c.entities.map((e) => BigInt(e.key)), new Int64()),
      event_timestamp: vectorFromArray(c.entities.map((e) => (e.tSec === null ? null : ms(e.tSec))), new TimestampMillisecond()),
      row_id: vectorFromArray(c.entities.map((_, i) => i), new Int32()),
      target: vectorFromArray(c.entities.map((_, i) => `t${i}`), new Utf8()),
    }));
  } else {
    await data.write(entitiesFile, { driver_id: 'BIGINT', event_timestamp: 'TIMESTAMP', row_id: 'INTEGER', target: 'VARCHAR' }, c.entities.map((e, i) => [e.key, ts(e.tSec), i, `t${i}`]));
  }
  return entitiesFile;
}

/** The output file's rows as plain objects. */
async function readOutput(path: string, format: Case['outFormat'], labelColumn: string): Promise<Record<string, unknown>[]> {
  if (format === 'arrow') {
    const table = tableFromIPC(await readFile(path));
    return table.toArray().map((r) => r.toJSON() as Record<string, unknown>);
  }
  const from = format === 'csv' ? `read_csv('${path}', header = true, types = {'${labelColumn}': 'VARCHAR', 'target': 'VARCHAR'})` : `read_parquet('${path}')`;
  return (await data.conn.runAndReadAll(`SELECT * FROM ${from}`)).getRowObjectsJS() as Record<string, unknown>[];
}

const num = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);

describe('training sets equal the TypeScript rule (no leakage)', () => {
  it('matches winnerAt/statusAt/valueAt for every entity row, in input order, in every format', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const dir = await tempDir();
        const entitiesFile = await writeCase(dir, c);
        const out = join(dir, `training.${c.outFormat}`);
        const result = await buildTrainingSet({
          repoDir: dir, entitiesFile, features: ['stats:rating', 'stats:score', 'stats:label'], outFile: out,
          fullFeatureNames: c.fullNames, defaults: c.defaults, threads: 2,
        });
        const name = (f: string) => (c.fullNames ? `stats__${f}` : f);
        expect(result.columns).toEqual(['driver_id', 'event_timestamp', 'row_id', 'target', name('rating'), name('score'), name('label')]);
        expect(result.rows).toBe(c.entities.length);
        const rows = await readOutput(out, c.outFormat, name('label'));
        expect(rows.length).toBe(c.entities.length);
        rows.forEach((row, i) => {
          const e = c.entities[i]!;
          const want = expectedRow(c, e);
          const score = row[name('score')] === null ? null : Math.fround(Number(row[name('score')]));
          expect({ i, key: num(row.driver_id), rowId: num(row.row_id), target: row.target, rating: num(row[name('rating')]), score, label: row[name('label')] })
            .toEqual({ i, key: e.key, rowId: i, target: `t${i}`, ...want });
        });
        const summary = result.views[0]!;
        expect(summary.present + summary.notFound + summary.outsideMaxAge).toBe(c.entities.length);
        expect(result.nullTimeRows).toBe(c.entities.filter((e) => e.tSec === null).length);
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});

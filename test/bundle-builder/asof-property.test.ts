/**
 * The as-of rule end to end, against a brute-force oracle written here (it
 * does not use src/core/asof.ts): random source rows with tied event and
 * created times and nulls, spread over several Parquet or Arrow files; a
 * random TTL, as_of and read time. Build, open, read every key, compare
 * every value, status and event timestamp, and the tie count warning.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { Float64, Int64, Table, TimestampMillisecond, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { openBundle } from '../../src/bundle-file.js';
import { buildBundle } from '../../bundle-builder/build.js';
import { feastTime, tempDir, writeArrow, writeConfig, useDataFiles } from './helpers.js';

const BASE_MS = Date.UTC(2024, 0, 1);
const SEC = 1000;
const KEYS = [0, 1, 2, 3];
/** A key that never appears in the data. */
const ABSENT_KEY = 9;
const RATING_DEFAULT = -1;

interface SourceRow {
  key: number;
  eventSec: number;
  createdSec: number | null;
  rating: number | null;
  label: string | null;
}

interface Case {
  format: 'parquet' | 'arrow';
  withCreated: boolean;
  /** Rows per file, files in name order. */
  files: SourceRow[][];
  ttlSeconds: number;
  asOfSec: number;
  readSec: number;
}

const rowArb = fc.record({
  key: fc.constantFrom(...KEYS),
  eventSec: fc.integer({ min: 0, max: 5 }),
  createdSec: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
  rating: fc.option(fc.integer({ min: -50, max: 50 }).map((n) => n / 4), { nil: null }),
  label: fc.option(fc.constantFrom('a', 'b', 'ü', 'long label over twelve bytes'), { nil: null }),
});

const caseArb: fc.Arbitrary<Case> = fc.record({
  format: fc.constantFrom<'parquet' | 'arrow'>('parquet', 'arrow'),
  withCreated: fc.boolean(),
  files: fc.array(fc.array(rowArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
  ttlSeconds: fc.constantFrom(0, 1, 2, 5),
  asOfSec: fc.integer({ min: -1, max: 6 }),
  readSec: fc.integer({ min: -2, max: 10 }),
});

/** The oracle's winner per key: brute force over all rows, by the rule in ARCHITECTURE.md. */
function oracle(c: Case): { winners: Map<number, SourceRow>; ties: number } {
  const asOfMs = BASE_MS + c.asOfSec * SEC;
  const candidates = new Map<number, { row: SourceRow; file: number; index: number }[]>();
  c.files.forEach((rows, file) =>
    rows.forEach((row, index) => {
      if (BASE_MS + row.eventSec * SEC > asOfMs) return;
      const list = candidates.get(row.key) ?? [];
      list.push({ row, file, index });
      candidates.set(row.key, list);
    }),
  );
  const created = (r: SourceRow) => (c.withCreated && r.createdSec !== null ? r.createdSec : -Infinity);
  const winners = new Map<number, SourceRow>();
  let ties = 0;
  for (const [key, list] of candidates) {
    // Sort best first: event desc, created desc (missing lowest), file desc, row desc.
    const sorted = [...list].sort(
      (a, b) =>
        b.row.eventSec - a.row.eventSec ||
        (created(b.row) === created(a.row) ? 0 : created(b.row) > created(a.row) ? 1 : -1) ||
        b.file - a.file ||
        b.index - a.index,
    );
    winners.set(key, sorted[0]!.row);
    const [first, second] = sorted;
    if (second && first!.row.eventSec === second.row.eventSec && created(first!.row) === created(second.row)) ties++;
  }
  return { winners, ties };
}

/** Expected Feast answer for one feature of one key at the read time. */
function expected(c: Case, winner: SourceRow | undefined, value: unknown, fallback: unknown) {
  const readMs = BASE_MS + c.readSec * SEC;
  if (!winner) return { value: fallback, status: 'NOT_FOUND', ts: '1970-01-01T00:00:00Z' };
  const eventMs = BASE_MS + winner.eventSec * SEC;
  if (eventMs > readMs) return { value: fallback, status: 'NOT_FOUND', ts: '1970-01-01T00:00:00Z' };
  const stale = c.ttlSeconds > 0 && readMs - eventMs > c.ttlSeconds * SEC;
  const status = stale ? 'OUTSIDE_MAX_AGE' : value === null ? 'NULL_VALUE' : 'PRESENT';
  return { value, status, ts: feastTime(eventMs) };
}

const data = useDataFiles();

async function writeCase(dir: string, c: Case): Promise<string> {
  const ext = c.format === 'parquet' ? 'parquet' : 'arrow';
  for (const [i, rows] of c.files.entries()) {
    const file = join(dir, 'data', `part-${i}.${ext}`);
    const ts = (sec: number | null) => (sec === null ? null : new Date(BASE_MS + sec * SEC));
    if (c.format === 'parquet') {
      const schema: Record<string, string> = { driver_id: 'BIGINT', event_ts: 'TIMESTAMP' };
      if (c.withCreated) schema.created_ts = 'TIMESTAMP';
      Object.assign(schema, { rating: 'DOUBLE', label: 'VARCHAR' });
      await data.write(file, schema, rows.map((r) => [r.key, ts(r.eventSec), ...(c.withCreated ? [ts(r.createdSec)] : []), r.rating, r.label]));
    } else {
      const cols: Record<string, Vector> = {
        driver_id: vectorFromArray(rows.map((r) => BigInt(r.key)), new Int64()),
        event_ts: vectorFromArray(rows.map((r) => BASE_MS + r.eventSec * SEC), new TimestampMillisecond()),
      };
      if (c.withCreated) cols.created_ts = vectorFromArray(rows.map((r) => (r.createdSec === null ? null : BASE_MS + r.createdSec * SEC)), new TimestampMillisecond());
      cols.rating = vectorFromArray(rows.map((r) => r.rating), new Float64());
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
      features: [{ name: 'rating', dtype: 'float64', default: RATING_DEFAULT }, { name: 'label', dtype: 'string' }],
    }],
  });
  return dir;
}

describe('as-of snapshot against a brute-force oracle', () => {
  it('matches every value, status, event timestamp and the tie count', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const dir = await tempDir();
        await writeCase(dir, c);
        const result = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), asOf: new Date(BASE_MS + c.asOfSec * SEC) });
        const bundle = await openBundle(result.path);
        const { winners, ties } = oracle(c);

        const keys = [...KEYS, ABSENT_KEY];
        const response = bundle.getOnlineFeatures(
          { features: ['stats:rating', 'stats:label'], entities: { driver_id: keys } },
          { now: new Date(BASE_MS + c.readSec * SEC) },
        );
        expect(response.metadata.feature_names).toEqual(['driver_id', 'rating', 'label']);
        keys.forEach((key, i) => {
          const w = winners.get(key);
          const rating = expected(c, w, w ? w.rating : null, RATING_DEFAULT);
          const label = expected(c, w, w ? w.label : null, null);
          expect({ key, rating: response.results[1]!.values[i], status: response.results[1]!.statuses[i], ts: response.results[1]!.event_timestamps[i] })
            .toEqual({ key, rating: rating.value, status: rating.status, ts: rating.ts });
          expect({ key, label: response.results[2]!.values[i], status: response.results[2]!.statuses[i], ts: response.results[2]!.event_timestamps[i] })
            .toEqual({ key, label: label.value, status: label.status, ts: label.ts });
        });

        expect(bundle.manifest.views[0]!.keyCount).toBe(winners.size);
        expect(result.views[0]!.ties).toBe(ties);
        const tieWarnings = bundle.manifest.warnings.filter((w) => w.includes('equal event and created timestamps'));
        if (ties === 0) expect(tieWarnings).toEqual([]);
        else expect(tieWarnings).toEqual([expect.stringContaining(`for ${ties} keys`)]);
      }),
      { numRuns: 40 },
    );
  }, 180_000);
});

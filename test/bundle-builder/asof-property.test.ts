/**
 * DuckDB's snapshot equals the TypeScript rule (src/core/asof.ts, the code
 * production runs): random source rows with tied event and created times
 * and nulls, spread over several Parquet or Arrow files; a random TTL,
 * as_of and read time. Build, open, read every key, and compare every
 * value, status, event timestamp and created time, and the tie count
 * warning, with what winnerAt, statusAt and valueAt give.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { Float64, Int64, Table, TimestampMillisecond, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { openBundle } from '../../src/bundle-file.js';
import { type Candidate, DEFAULT_VALUE_RULE, statusAt, valueAt, winnerAt } from '../../src/core/asof.js';
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

/**
 * The TypeScript rule's winner per key (src/core/asof.ts winnerAt, which
 * production uses), with each row's source position: file in name order,
 * then row within the file.
 */
function ruleWinners(c: Case): { winners: Map<number, SourceRow>; ties: number } {
  const byKey = new Map<number, (Candidate & { row: SourceRow })[]>();
  c.files.forEach((rows, file) =>
    rows.forEach((row, index) => {
      const list = byKey.get(row.key) ?? [];
      list.push({
        row,
        eventTsMs: BASE_MS + row.eventSec * SEC,
        createdTsMs: c.withCreated && row.createdSec !== null ? BASE_MS + row.createdSec * SEC : null,
        position: file * 1_000_000 + index,
      });
      byKey.set(row.key, list);
    }),
  );
  const winners = new Map<number, SourceRow>();
  let ties = 0;
  for (const [key, list] of byKey) {
    const won = winnerAt(list, BASE_MS + c.asOfSec * SEC);
    if (!won) continue;
    winners.set(key, won.row.row);
    if (won.tie) ties++;
  }
  return { winners, ties };
}

/** Expected Feast answer for one feature of one key at the read time, by the rule's statusAt and valueAt. */
function expected(c: Case, winner: SourceRow | undefined, value: unknown, fallback: unknown) {
  const readMs = BASE_MS + c.readSec * SEC;
  const eventMs = winner ? BASE_MS + winner.eventSec * SEC : undefined;
  const status = eventMs === undefined ? 'NOT_FOUND' : statusAt(eventMs, value, readMs, c.ttlSeconds);
  const ts = status === 'NOT_FOUND' ? '1970-01-01T00:00:00Z' : feastTime(eventMs!);
  return { value: valueAt(value, status, fallback, DEFAULT_VALUE_RULE), status, ts };
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

describe('the DuckDB as-of snapshot equals the TypeScript rule', () => {
  it('matches every value, status, event timestamp and the tie count', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const dir = await tempDir();
        await writeCase(dir, c);
        const result = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), asOf: new Date(BASE_MS + c.asOfSec * SEC) });
        const bundle = await openBundle(result.path);
        const { winners, ties } = ruleWinners(c);

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

        // The bundle keeps the winner's created time, so tiers can merge by the whole rule.
        const view = bundle.view('stats')!;
        for (const [key, w] of winners) {
          const created = c.withCreated && w.createdSec !== null ? BASE_MS + w.createdSec * SEC : null;
          expect({ key, created: view.createdTsMs(view.rowOf(String(key))) }).toEqual({ key, created });
        }
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

/**
 * `larder shadow`'s programmatic API: reads the sidecar's served-value log,
 * recomputes from the offline data the training value of every logged
 * (entity, feature) at its request time (the training set's own join,
 * point-in-time-sql.ts, with the winners' times for diagnosis), and
 * compares them value by value (src/core/shadow/).
 *
 *   read *.ndjson lines -> probe table (entity keys, request time) ->
 *   point-in-time join with row statuses and winner times -> compare each
 *   logged value, name the cause of each difference -> summary + verdict.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, VARCHAR } from '@duckdb/node-api';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { valueStatus } from '../src/core/asof.js';
import { LarderError } from '../src/core/errors.js';
import type { FeatureViewDef } from '../src/core/repo/types.js';
import { type Tolerance, EXACT } from '../src/core/shadow/compare.js';
import { type ServedRecord, ServedRecordError, parseServedRecords } from '../src/core/shadow/served-record.js';
import { type ComparedFeature, type ShadowSummary, ShadowAccumulator, type Verdict, verdict } from '../src/core/shadow/summary.js';
import { planViews } from './build.js';
import { loadRepo } from './config.js';
import type { ViewReadPlan } from './sources/check.js';
import { duckdbMessage, openDb, sqlIdent } from './duckdb.js';
import {
  type JoinOutput, joinViews, PROBE_TIME, ROW_STATUS_CODES, pointInTimeSql, rowStatusColumn, storedColumn, winnerCreatedColumn,
  winnerEventColumn,
} from './point-in-time-sql.js';

export interface ShadowProgress {
  phase: 'config' | 'source' | 'read' | 'join' | 'compare' | 'warning';
  message: string;
}

export interface ShadowOptions {
  repoDir: string;
  /** The sidecar's --log-served directory: its complete `*.ndjson` files are read. */
  servedDir: string;
  tolerance?: Tolerance;
  /** The verdict fails when a feature's skew or unexplained rate is above this (0..1, default 0). */
  maxMismatch?: number;
  threads?: number;
  onProgress?: (p: ShadowProgress) => void;
}

export interface ShadowResult {
  project: string;
  servedDir: string;
  files: string[];
  tolerance: Tolerance;
  maxMismatch: number;
  summary: ShadowSummary;
  verdict: Verdict;
  /** Logged values not compared, by reason. */
  skipped: { otherProject: number; unknownFeature: number };
  warnings: string[];
  seconds: number;
}

const PROBES = '__larder_shadow_probes';
const PROBE_ROW = '__larder_probe_row';

/** The log's complete files, sorted (a `.part` file is still being written). */
async function logFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new LarderError('LARDER_ERR_SOURCE', `--served ${dir}: cannot list the served log: ${(e as Error).message}`);
  }
  const files = names.filter((n) => n.endsWith('.ndjson')).sort().map((n) => join(dir, n));
  if (files.length === 0) throw new LarderError('LARDER_ERR_SOURCE', `--served ${dir}: no served-log files (*.ndjson) there; start the sidecar with --log-served ${dir}`);
  return files;
}

async function readRecords(files: readonly string[]): Promise<ServedRecord[]> {
  const records: ServedRecord[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    let lineNo = 0;
    for (const line of text.split('\n')) {
      lineNo++;
      if (line.trim() === '') continue;
      try {
        for (const record of parseServedRecords(line)) records.push(record);
      } catch (e) {
        if (e instanceof ServedRecordError) throw new LarderError('LARDER_ERR_SOURCE', `${file}:${lineNo}: not a served-log record: ${e.message}`);
        throw e;
      }
    }
  }
  return records;
}

/** DuckDB JS values as plain JSON-able ones: integers as numbers, lists as arrays. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

const timeOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

interface FeatureRef {
  view: number;
  featureIndex: number;
  output: number;
  compared: ComparedFeature;
}

/** Loads one probe per logged entity: its join key values (typed as the views read them) and request time. */
async function loadProbes(conn: DuckDBConnection, records: readonly ServedRecord[], keyTypes: ReadonlyMap<string, 'int64' | 'string'>): Promise<number> {
  const keys = [...keyTypes];
  const cols = [`${PROBE_ROW} BIGINT`, ...keys.map(([name, t]) => `${sqlIdent(name)} ${t === 'int64' ? 'BIGINT' : 'VARCHAR'}`), `${PROBE_TIME} BIGINT`];
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${PROBES} (${cols.join(', ')})`);
  const appender = await conn.createAppender(PROBES);
  let mistyped = 0;
  records.forEach((r, i) => {
    appender.appendValue(BigInt(i), BIGINT);
    for (const [name, t] of keys) {
      const v = r.entity[name];
      if (t === 'int64' && typeof v === 'number' && Number.isSafeInteger(v)) appender.appendValue(BigInt(v), BIGINT);
      else if (t === 'string' && typeof v === 'string') appender.appendValue(v, VARCHAR);
      else {
        if (v !== undefined) mistyped++;
        appender.appendNull();
      }
    }
    appender.appendValue(BigInt(Math.trunc(r.request_ms)), BIGINT);
    appender.endRow();
  });
  appender.flushSync();
  appender.closeSync();
  return mistyped;
}

/** Runs the comparison; see ShadowOptions. */
export async function runShadow(opts: ShadowOptions): Promise<ShadowResult> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => undefined);
  const tolerance = opts.tolerance ?? EXACT;
  const maxMismatch = opts.maxMismatch ?? 0;
  progress({ phase: 'config', message: `loading feature repo ${opts.repoDir}` });
  const loaded = await loadRepo(opts.repoDir);
  const { repo } = loaded;
  const files = await logFiles(opts.servedDir);
  progress({ phase: 'read', message: `reading ${files.length} served-log file(s) in ${opts.servedDir}` });
  const all = await readRecords(files);
  const warnings: string[] = [];
  const skipped = { otherProject: 0, unknownFeature: 0 };

  const records = all.filter((r) => r.project === repo.project);
  skipped.otherProject = all.length - records.length;
  if (skipped.otherProject > 0) warnings.push(`${skipped.otherProject} logged entities are of another project than "${repo.project}" and were skipped`);

  // The logged features, resolved against the repo as it is now.
  const views: FeatureViewDef[] = [];
  const refs = new Map<string, FeatureRef | null>();
  for (const r of records) {
    for (const sv of r.views) {
      for (const name of sv.features) {
        const ref = `${sv.view}:${name}`;
        if (refs.has(ref)) continue;
        const view = repo.featureViews.find((v) => v.name === sv.view);
        const featureIndex = view ? view.features.findIndex((x) => x.name === name) : -1;
        if (!view || featureIndex < 0) {
          refs.set(ref, null);
          continue;
        }
        if (!views.includes(view)) views.push(view);
        refs.set(ref, {
          view: views.indexOf(view), featureIndex, output: 0,
          compared: { ref, view: view.name, dtype: view.features[featureIndex]!.dtype, ttlSeconds: view.ttlSeconds },
        });
      }
    }
  }
  const unknown = [...refs].filter(([, v]) => v === null).map(([k]) => k);
  if (unknown.length > 0) warnings.push(`features not in the repo any more, not compared: ${unknown.join(', ')}`);
  const known = [...refs.values()].filter((r): r is FeatureRef => r !== null);
  known.forEach((r, i) => (r.output = i));

  const acc = new ShadowAccumulator({ tolerance });
  const db = await openDb({ threads: opts.threads });
  try {
    const conn = db.conn;
    const sub = { ...loaded, repo: { ...repo, featureViews: views } };
    const planned = views.length > 0 ? await planViews(conn, sub, (p) => progress({ phase: 'source', message: p.message })) : new Map<string, ViewReadPlan>();
    const plans = views.map((v) => planned.get(v.name)!);
    const keyTypes = new Map<string, 'int64' | 'string'>();
    for (const plan of plans) for (const k of plan.joinKeys) keyTypes.set(k.name, keyTypes.get(k.name) === 'string' ? 'string' : k.dtype);
    const mistyped = await loadProbes(conn, records, keyTypes);
    if (mistyped > 0) warnings.push(`${mistyped} logged join key values have another type than the views' sources give them; those entities read as not found offline`);

    let joined;
    try {
      joined = await joinViews(conn, plans);
    } catch (e) {
      throw new LarderError('LARDER_ERR_SOURCE', `${loaded.file}: reading the views' sources failed: ${duckdbMessage(e)}`, { cause: e });
    }
    const outputs: JoinOutput[] = known.map((r) => ({ view: r.view, feature: r.featureIndex, name: `o${r.output}` }));
    const sql = pointInTimeSql({
      probes: PROBES, views: joined, outputs, defaults: true, rowStatuses: true, diagnostics: true,
      passthrough: `p.${PROBE_ROW}`, orderBy: `p.${PROBE_ROW}`,
    });
    progress({ phase: 'join', message: `recomputing ${records.length} logged entities' values at their request times` });
    const byRef = new Map(known.map((r) => [r.compared.ref, r]));
    for (const r of records) acc.addRecord(r.request_ms, r.bundle_version);
    if (views.length > 0) {
      let result;
      try {
        result = await conn.stream(sql);
      } catch (e) {
        throw new LarderError('LARDER_ERR_SOURCE', `${loaded.file}: shadow join failed: ${duckdbMessage(e)}`, { cause: e });
      }
      const names = result.columnNames();
      const col = (name: string) => names.indexOf(name);
      const rowCol = col(PROBE_ROW);
      const outCols = known.map((r) => ({ value: col(`o${r.output}`), stored: col(storedColumn(r.view, r.featureIndex)) }));
      const viewCols = plans.map((_, v) => ({ status: col(rowStatusColumn(v)), event: col(winnerEventColumn(v)), created: col(winnerCreatedColumn(v)) }));
      progress({ phase: 'compare', message: 'comparing served values with training values' });
      for await (const rows of result.yieldRowsJs()) {
        for (const row of rows) {
          const record = records[Number(row[rowCol])]!;
          for (const sv of record.views) {
            for (let j = 0; j < sv.features.length; j++) {
              const ref = byRef.get(`${sv.view}:${sv.features[j]}`);
              if (!ref) {
                skipped.unknownFeature++;
                continue;
              }
              const vc = viewCols[ref.view]!;
              const oc = outCols[ref.output]!;
              const rowStatus = ROW_STATUS_CODES[Number(row[vc.status])]!;
              acc.add(
                ref.compared,
                {
                  value: sv.values[j], status: sv.statuses[j]!, tier: sv.tier, eventMs: sv.event_ms, createdMs: sv.created_ms,
                  requestMs: record.request_ms, bundleAsOfMs: record.bundle_as_of_ms, serveStale: record.serve_stale,
                },
                {
                  value: plain(row[oc.value]),
                  status: valueStatus(rowStatus, row[oc.stored] === null || row[oc.stored] === undefined),
                  eventMs: timeOrNull(row[vc.event]),
                  createdMs: timeOrNull(row[vc.created]),
                },
                { entity: record.entity, requestId: record.request_id, bundleVersion: record.bundle_version },
              );
            }
          }
        }
      }
    } else skipped.unknownFeature = records.reduce((s, r) => s + r.views.reduce((t, v) => t + v.features.length, 0), 0);
  } finally {
    db.close();
  }
  for (const w of warnings) progress({ phase: 'warning', message: w });
  const summary = acc.summary();
  return {
    project: repo.project,
    servedDir: resolve(opts.servedDir),
    files,
    tolerance,
    maxMismatch,
    summary,
    verdict: verdict(summary, maxMismatch),
    skipped,
    warnings,
    seconds: (performance.now() - started) / 1000,
  };
}

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
 *
 * The log is read twice, line by line: once to check every line and find
 * the features logged, then in batches of `batchRecords` logged entities, each joined
 * and compared on its own, so memory does not grow with the log.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { BIGINT, VARCHAR } from '@duckdb/node-api';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { valueStatus } from '../src/core/asof.js';
import { LarderError } from '../src/core/errors.js';
import type { FeatureViewDef } from '../src/core/repo/types.js';
import { type Tolerance, EXACT } from '../src/core/shadow/compare.js';
import { type ServedLine, type ServedRecord, ServedRecordError, parseServedLine, servedRecords } from '../src/core/shadow/served-record.js';
import { type ComparedFeature, type ShadowSummary, ShadowAccumulator, type Verdict, verdict } from '../src/core/shadow/summary.js';
import { planViews } from './build.js';
import { type LoadedRepo, loadRepo } from './config.js';
import type { ViewReadPlan } from './sources/check.js';
import { duckdbMessage, openDb, sqlIdent } from './duckdb.js';
import {
  type JoinOutput, type JoinView, joinViews, PROBE_TIME, ROW_STATUS_CODES, pointInTimeSql, rowStatusColumn, storedColumn, winnerCreatedColumn,
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
  /** Logged entities joined and compared at once (default 200,000): bounds memory whatever the log's length. */
  batchRecords?: number;
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
const DEFAULT_BATCH_RECORDS = 200_000;

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

/** The log's lines, read one at a time. A line that is not a record fails the run, naming its file and line. */
async function* servedLines(files: readonly string[]): AsyncGenerator<ServedLine> {
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    let lineNo = 0;
    try {
      for await (const line of lines) {
        lineNo++;
        if (line.trim() === '') continue;
        let parsed: ServedLine;
        try {
          parsed = parseServedLine(line);
        } catch (e) {
          if (e instanceof ServedRecordError) throw new LarderError('LARDER_ERR_SOURCE', `${file}:${lineNo}: not a served-log record: ${e.message}`);
          throw e;
        }
        yield parsed;
      }
    } catch (e) {
      if (e instanceof LarderError) throw e;
      throw new LarderError('LARDER_ERR_SOURCE', `${file}: cannot read the served log: ${(e as Error).message}`);
    } finally {
      lines.close();
    }
  }
}

/** The log's records in batches of at most `size`, so that a log of any length is compared in bounded memory. */
async function* recordBatches(files: readonly string[], size: number): AsyncGenerator<ServedRecord[]> {
  let batch: ServedRecord[] = [];
  for await (const line of servedLines(files)) {
    for (const record of servedRecords(line)) batch.push(record);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** What a first pass over the log finds: the features logged, the entities of this project and of others. */
interface LogSurvey {
  /** Each logged `view:feature`, resolved against the repo (null: not in it any more). */
  refs: Map<string, FeatureRef | null>;
  /** The views of the resolvable features, in order of first use. */
  views: FeatureViewDef[];
  /** Logged entities of this project. */
  entities: number;
  otherProject: number;
  /** Logged values (entity x feature) of this project whose feature the repo does not know. */
  unknownFeature: number;
}

/** Reads the log's lines once (not its per-entity records): a line's features are those of all its entities. */
async function surveyLog(files: readonly string[], repo: LoadedRepo['repo']): Promise<LogSurvey> {
  const survey: LogSurvey = { refs: new Map(), views: [], entities: 0, otherProject: 0, unknownFeature: 0 };
  for await (const line of servedLines(files)) {
    const n = line.entity_index.length;
    if (line.project !== repo.project) {
      survey.otherProject += n;
      continue;
    }
    survey.entities += n;
    for (const sv of line.views) {
      for (const name of sv.features) {
        const ref = `${sv.view}:${name}`;
        let known = survey.refs.get(ref);
        if (known === undefined) survey.refs.set(ref, (known = resolveRef(survey, repo, ref, sv.view, name)));
        if (known === null) survey.unknownFeature += n;
      }
    }
  }
  return survey;
}

/** The repo's feature `ref` (`view:name`; adding its view to the survey's), or null when the repo does not have it. */
function resolveRef(survey: LogSurvey, repo: LoadedRepo['repo'], ref: string, viewName: string, name: string): FeatureRef | null {
  const view = repo.featureViews.find((v) => v.name === viewName);
  const featureIndex = view ? view.features.findIndex((x) => x.name === name) : -1;
  if (!view || featureIndex < 0) return null;
  if (!survey.views.includes(view)) survey.views.push(view);
  return {
    view: survey.views.indexOf(view), featureIndex, output: 0,
    compared: { ref, view: view.name, dtype: view.features[featureIndex]!.dtype, ttlSeconds: view.ttlSeconds },
  };
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

/**
 * Compares one batch: each row of the join's `result` (one per record, by
 * its position in `records`) against the values that record logged (those
 * of features the repo does not know are skipped: the survey counted them).
 */
async function compareBatch(
  result: Awaited<ReturnType<DuckDBConnection['stream']>>,
  records: readonly ServedRecord[],
  ctx: { known: readonly FeatureRef[]; byRef: ReadonlyMap<string, FeatureRef>; plans: readonly ViewReadPlan[]; acc: ShadowAccumulator },
): Promise<void> {
  const { known, byRef, plans, acc } = ctx;
  const names = result.columnNames();
  const col = (name: string) => names.indexOf(name);
  const rowCol = col(PROBE_ROW);
  const outCols = known.map((r) => ({ value: col(`o${r.output}`), stored: col(storedColumn(r.view, r.featureIndex)) }));
  const viewCols = plans.map((_, v) => ({ status: col(rowStatusColumn(v)), event: col(winnerEventColumn(v)), created: col(winnerCreatedColumn(v)) }));
  for await (const rows of result.yieldRowsJs()) {
    for (const row of rows) {
      const record = records[Number(row[rowCol])]!;
      for (const sv of record.views) {
        for (let j = 0; j < sv.features.length; j++) {
          const ref = byRef.get(`${sv.view}:${sv.features[j]}`);
          if (!ref) continue;
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
  // Two passes: the first checks every line and finds the features logged
  // (the join's columns); the second compares batch by batch.
  const batchRecords = opts.batchRecords ?? DEFAULT_BATCH_RECORDS;
  const survey = await surveyLog(files, repo);
  const { refs, views } = survey;
  const warnings: string[] = [];
  const skipped = { otherProject: survey.otherProject, unknownFeature: survey.unknownFeature };
  if (skipped.otherProject > 0) warnings.push(`${skipped.otherProject} logged entities are of another project than "${repo.project}" and were skipped`);
  const unknown = [...refs].filter(([, v]) => v === null).map(([k]) => k);
  if (unknown.length > 0) warnings.push(`features not in the repo any more, not compared: ${unknown.join(', ')}`);
  const known = [...refs.values()].filter((r): r is FeatureRef => r !== null);
  known.forEach((r, i) => (r.output = i));
  const byRef = new Map(known.map((r) => [r.compared.ref, r]));

  const acc = new ShadowAccumulator({ tolerance });
  const db = await openDb({ threads: opts.threads });
  try {
    const conn = db.conn;
    const sub = { ...loaded, repo: { ...repo, featureViews: views } };
    const planned = views.length > 0 ? await planViews(conn, sub, (p) => progress({ phase: 'source', message: p.message })) : new Map<string, ViewReadPlan>();
    const plans = views.map((v) => planned.get(v.name)!);
    const keyTypes = new Map<string, 'int64' | 'string'>();
    for (const plan of plans) for (const k of plan.joinKeys) keyTypes.set(k.name, keyTypes.get(k.name) === 'string' ? 'string' : k.dtype);

    let joined: JoinView[] = [];
    try {
      if (views.length > 0) joined = await joinViews(conn, plans);
    } catch (e) {
      throw new LarderError('LARDER_ERR_SOURCE', `${loaded.file}: reading the views' sources failed: ${duckdbMessage(e)}`, { cause: e });
    }
    const outputs: JoinOutput[] = known.map((r) => ({ view: r.view, feature: r.featureIndex, name: `o${r.output}` }));
    const sql = views.length > 0 ? pointInTimeSql({
      probes: PROBES, views: joined, outputs, defaults: true, rowStatuses: true, diagnostics: true,
      passthrough: `p.${PROBE_ROW}`, orderBy: `p.${PROBE_ROW}`,
    }) : undefined;

    let mistyped = 0;
    let done = 0;
    for await (const batch of recordBatches(files, batchRecords)) {
      const records = batch.filter((r) => r.project === repo.project);
      for (const r of records) acc.addRecord(r.request_ms, r.bundle_version);
      progress({ phase: 'join', message: `recomputing the values of logged entities ${done + 1}-${done + records.length} of ${survey.entities} at their request times` });
      done += records.length;
      if (!sql) continue;
      mistyped += await loadProbes(conn, records, keyTypes);
      let result;
      try {
        result = await conn.stream(sql);
      } catch (e) {
        throw new LarderError('LARDER_ERR_SOURCE', `${loaded.file}: shadow join failed: ${duckdbMessage(e)}`, { cause: e });
      }
      await compareBatch(result, records, { known, byRef, plans, acc });
    }
    if (mistyped > 0) warnings.push(`${mistyped} logged join key values have another type than the views' sources give them; those entities read as not found offline`);
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

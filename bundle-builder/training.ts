/**
 * Training sets: `larder training`'s programmatic API. Each row of an
 * entities file (join keys, a timestamp, labels) gets each asked feature's
 * value at that row's time by the one value rule, through DuckDB's ASOF join
 * (point-in-time-sql.ts), the same rule the bundle's snapshot and every
 * online read use.
 *
 *   load config -> resolve features -> open the entities file and check its
 *   columns -> open and check the views' sources -> join into a temp table
 *   (input order) -> count holes -> write the file (by extension).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { resolve } from 'node:path';
import { LarderError } from '../src/core/errors.js';
import type { FeatureDef, FeatureViewDef, RepoDef } from '../src/core/repo/types.js';
import { planViews } from './build.js';
import { type LoadedRepo, loadRepo } from './config.js';
import { duckdbMessage, openDb, queryRows, sqlIdent, sqlString } from './duckdb.js';
import { type JoinOutput, joinViews, PROBE_TIME, ROW_STATUS_CODES, pointInTimeSql, rowStatusColumn } from './point-in-time-sql.js';
import type { ViewReadPlan } from './sources/check.js';
import { epochMsSql, isTimestampType, joinKeyDtype } from './sources/column-types.js';
import { FILE_COLUMN, type OpenSource, ROW_COLUMN, openSource } from './sources/source.js';
import { OUTPUT_EXTENSIONS, OutputTypeError, outputFormatOf, writeTableFile } from './table-output.js';

export type TrainingPhase = 'config' | 'source' | 'entities' | 'join' | 'write' | 'warning';

export interface TrainingProgress {
  phase: TrainingPhase;
  message: string;
  /** For 'join': DuckDB's estimate of the work done, 0..100. */
  percent?: number;
}

export interface TrainingOptions {
  repoDir: string;
  /** Parquet, CSV or Arrow IPC: join keys, the timestamp column, anything else (passed through). */
  entitiesFile: string;
  /** "view:feature" references (or "view:*"); exactly one of features and featureService. */
  features?: readonly string[];
  featureService?: string;
  /** Output file: .parquet, .pq, .csv, .arrow, .feather or .ipc. */
  outFile: string;
  /** Column names `view__feature` (Feast's full_feature_names). */
  fullFeatureNames?: boolean;
  /** false: every hole is null instead of the feature's default. Default true. */
  defaults?: boolean;
  /** The entities file's timestamp column; default `event_timestamp`. */
  timestampColumn?: string;
  threads?: number;
  onProgress?: (p: TrainingProgress) => void;
  /** How often join progress is reported, ms (default 1000). */
  progressIntervalMs?: number;
}

export interface TrainingViewSummary {
  name: string;
  features: string[];
  /** Entity rows whose winner was fresh at the row's time (its values may still be null: NULL_VALUE). */
  present: number;
  /** Entity rows whose winner was older than the view's TTL (OUTSIDE_MAX_AGE). */
  outsideMaxAge: number;
  /** Entity rows with no visible row of the key (NOT_FOUND), a null time included. */
  notFound: number;
}

export interface TrainingResult {
  path: string;
  rows: number;
  /** Output columns: the entities file's, then the features'. */
  columns: string[];
  views: TrainingViewSummary[];
  /** Entity rows whose timestamp is null: every feature of theirs is a hole. */
  nullTimeRows: number;
  seconds: number;
  timings: { readSeconds: number; joinSeconds: number; writeSeconds: number };
  warnings: string[];
}

/** A feature asked for: its view, its index in the view, its output name. */
export interface FeatureChoice {
  view: FeatureViewDef;
  featureIndex: number;
  name: string;
}

const TABLE = '__larder_training';
const DEFAULT_TIMESTAMP_COLUMN = 'event_timestamp';

const seconds = (fromMs: number) => (performance.now() - fromMs) / 1000;

/**
 * The features asked for, as references ("view:feature", "view:*") or a
 * feature service's, in order, with their output names. Offline views
 * count: a training set reads the offline data.
 */
export function chooseFeatures(repo: RepoDef, refs: readonly string[] | undefined, service: string | undefined, fullNames: boolean): FeatureChoice[] {
  if ((refs === undefined) === (service === undefined)) {
    throw new LarderError('LARDER_ERR_BAD_REQUEST', 'give either features ("view:feature", ...) or a feature service, not both and not neither');
  }
  let list = refs;
  if (service !== undefined) {
    const s = repo.featureServices.find((x) => x.name === service);
    if (!s) throw new LarderError('LARDER_ERR_UNKNOWN_SERVICE', `feature service "${service}" does not exist (known: ${repo.featureServices.map((x) => x.name).join(', ') || 'none'})`);
    list = s.features;
  }
  if (!list || list.length === 0) throw new LarderError('LARDER_ERR_BAD_REQUEST', 'no features asked for');
  const chosen: FeatureChoice[] = [];
  for (const ref of list) {
    const [viewName, featureName, extra] = ref.split(':');
    if (!viewName || !featureName || extra !== undefined) throw new LarderError('LARDER_ERR_BAD_REQUEST', `feature reference ${JSON.stringify(ref)} is not "view:feature"`);
    const view = repo.featureViews.find((v) => v.name === viewName);
    if (!view) throw new LarderError('LARDER_ERR_UNKNOWN_VIEW', `feature view "${viewName}" does not exist (known: ${repo.featureViews.map((v) => v.name).join(', ')})`);
    const indexes = featureName === '*' ? view.features.map((_, i) => i) : [view.features.findIndex((f) => f.name === featureName)];
    if (indexes[0] === -1) throw new LarderError('LARDER_ERR_UNKNOWN_FEATURE', `feature view "${viewName}" has no feature "${featureName}"`);
    for (const i of indexes) {
      const f = view.features[i]!;
      if (chosen.some((c) => c.view === view && c.featureIndex === i)) continue;
      chosen.push({ view, featureIndex: i, name: fullNames ? `${view.name}__${f.name}` : f.name });
    }
  }
  const seen = new Map<string, FeatureChoice>();
  for (const c of chosen) {
    const other = seen.get(c.name);
    if (other) throw new LarderError('LARDER_ERR_BAD_REQUEST', `features "${other.view.name}:${c.name}" and "${c.view.name}:${c.name}" would both be column "${c.name}"; use full feature names (view__feature)`);
    seen.set(c.name, c);
  }
  return chosen;
}

/** A feature value as a training set stores it: float32 as FLOAT, timestamps as TIMESTAMP (UTC). */
function presentValue(sql: string, f: FeatureDef): string {
  if (f.dtype === 'float32') return `CAST(${sql} AS FLOAT)`;
  if (f.dtype === 'timestamp') return `epoch_ms(${sql})`;
  return sql;
}

interface Entities {
  source: OpenSource;
  /** A FROM item: the entities with PROBE_TIME. */
  probes: string;
  /** The entities file's columns, in order. */
  columns: string[];
}

/** Opens the entities file and checks its join key and timestamp columns; all problems in one error. */
async function openEntities(conn: DuckDBConnection, file: string, tsColumn: string, plans: readonly ViewReadPlan[]): Promise<Entities> {
  const source = await openSource(conn, process.cwd(), { name: 'entities', path: file, timestampField: tsColumn }, '--entities');
  const problems: string[] = [];
  const describe = source.files.length === 1 ? source.files[0]! : `the ${source.files.length} files of ${file}`;
  const columnType = (column: string): string | undefined => {
    for (const fs of source.fileSchemas) {
      if (!fs.columns.has(column)) return undefined;
    }
    return source.columns.get(column);
  };
  const tsType = columnType(tsColumn);
  if (tsType === undefined) problems.push(`timestamp column "${tsColumn}" not found in ${describe} (columns: ${[...source.columns.keys()].join(', ')}); name another with --timestamp-column`);
  else if (!isTimestampType(tsType)) problems.push(`timestamp column "${tsColumn}" of ${describe} is ${tsType}, expected TIMESTAMP, TIMESTAMP WITH TIME ZONE or DATE`);
  const checked = new Set<string>();
  for (const plan of plans) {
    for (const k of plan.joinKeys) {
      const t = columnType(k.name);
      const key = `${k.name}/${k.dtype}`;
      if (checked.has(key)) continue;
      checked.add(key);
      if (t === undefined) problems.push(`join key "${k.name}" (feature view "${plan.view.name}") not found in ${describe} (columns: ${[...source.columns.keys()].join(', ')})`);
      else if (joinKeyDtype(t) !== k.dtype) {
        const want = k.dtype === 'int64' ? 'an integer type' : 'VARCHAR';
        problems.push(`join key "${k.name}" of ${describe} is ${t}, but feature view "${plan.view.name}" reads it as ${want} from its source; give the column that type`);
      }
    }
  }
  if (problems.length > 0) throw new LarderError('LARDER_ERR_SOURCE', `--entities ${file}: ${problems.join('; ')}`);
  const columns = [...source.columns.keys()];
  // One file: its name is the same on every row, and would only be carried through every join.
  const dropFile = source.files.length === 1 ? ` EXCLUDE (${FILE_COLUMN})` : '';
  return { source, columns, probes: `(SELECT *${dropFile}, ${epochMsSql(tsColumn, tsType!)} AS ${PROBE_TIME} FROM ${source.relation})` };
}

/**
 * The entities' input order: the row within the file, after the file's
 * place in the sorted list when a glob named several (integers: sorting
 * 1M rows by the file's name as well cost a quarter of the join).
 */
function inputOrder(source: OpenSource): string {
  const row = `p.${ROW_COLUMN}`;
  if (source.files.length === 1) return row;
  return `list_position([${source.files.map(sqlString).join(', ')}], p.${FILE_COLUMN}), ${row}`;
}

/** Runs `sql`, reporting DuckDB's progress estimate every `intervalMs`. */
async function runWithProgress(conn: DuckDBConnection, sql: string, intervalMs: number, report: (percent: number) => void): Promise<void> {
  const timer = setInterval(() => {
    const p = conn.progress.percentage;
    if (p >= 0) report(p);
  }, intervalMs);
  try {
    await conn.run(sql);
  } finally {
    clearInterval(timer);
  }
}

/** Builds a training set; see TrainingOptions. */
export async function buildTrainingSet(opts: TrainingOptions): Promise<TrainingResult> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => undefined);
  const format = outputFormatOf(opts.outFile);
  if (!format) throw new LarderError('LARDER_ERR_BAD_REQUEST', `--out ${opts.outFile}: cannot tell the format from its extension (known: ${OUTPUT_EXTENSIONS})`);
  const tsColumn = opts.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;

  progress({ phase: 'config', message: `loading feature repo ${opts.repoDir}` });
  const loaded = await loadRepo(opts.repoDir);
  const chosen = chooseFeatures(loaded.repo, opts.features, opts.featureService, opts.fullFeatureNames ?? false);
  const views = [...new Set(chosen.map((c) => c.view))];

  const db = await openDb({ threads: opts.threads });
  try {
    const conn = db.conn;
    await conn.run('SET enable_progress_bar = true');
    await conn.run('SET enable_progress_bar_print = false');
    let t = performance.now();
    const sub: LoadedRepo = { ...loaded, repo: { ...loaded.repo, featureViews: views } };
    const planned = await planViews(conn, sub, (p) => progress({ phase: 'source', message: p.message }));
    const plans = views.map((v) => planned.get(v.name)!);
    progress({ phase: 'entities', message: `reading entities ${opts.entitiesFile}` });
    const entities = await openEntities(conn, opts.entitiesFile, tsColumn, plans);
    for (const c of chosen) {
      if (entities.columns.includes(c.name)) {
        throw new LarderError('LARDER_ERR_BAD_REQUEST', `--entities ${opts.entitiesFile} already has a column "${c.name}", the name of feature "${c.view.name}:${c.view.features[c.featureIndex]!.name}"${opts.fullFeatureNames ? '' : '; use full feature names'}`);
      }
    }
    const readSeconds = seconds(t);

    t = performance.now();
    progress({ phase: 'join', message: `checking ${views.length} view(s) for keys with several rows at one event time` });
    let joined;
    try {
      joined = await joinViews(conn, plans);
    } catch (e) {
      throw new LarderError('LARDER_ERR_SOURCE', `${loaded.file}: reading the views' sources failed: ${duckdbMessage(e)}`, { cause: e });
    }
    const outputs: JoinOutput[] = chosen.map((c) => ({ view: views.indexOf(c.view), feature: c.featureIndex, name: c.name }));
    const internal = [FILE_COLUMN, ROW_COLUMN, PROBE_TIME];
    const sql = pointInTimeSql({
      probes: entities.probes,
      views: joined,
      outputs,
      defaults: opts.defaults ?? true,
      present: presentValue,
      passthrough: [...entities.columns.map((c) => `p.${sqlIdent(c)}`), `p.${PROBE_TIME}`].join(', '),
      rowStatuses: true,
      orderBy: inputOrder(entities.source),
    });
    progress({ phase: 'join', message: `joining ${chosen.length} feature(s) of ${views.length} view(s) at each entity row's time`, percent: 0 });
    try {
      await runWithProgress(conn, `CREATE TEMP TABLE ${TABLE} AS ${sql}`, opts.progressIntervalMs ?? 1000, (percent) =>
        progress({ phase: 'join', message: `joining: ${percent.toFixed(0)}%`, percent }),
      );
    } catch (e) {
      throw new LarderError('LARDER_ERR_SOURCE', `${loaded.file}: training set join failed: ${duckdbMessage(e)}`, { cause: e });
    }
    progress({ phase: 'join', message: 'joining: 100%', percent: 100 });
    const counts = (await queryRows(conn, countsSql(plans)))[0]!;
    const joinSeconds = seconds(t);

    const rows = Number(counts.rows);
    const nullTimeRows = Number(counts.null_time);
    const columns = [...entities.columns, ...chosen.map((c) => c.name)].filter((c) => !internal.includes(c));
    t = performance.now();
    const path = resolve(opts.outFile);
    progress({ phase: 'write', message: `writing ${rows} rows to ${path}` });
    try {
      await writeTableFile(conn, TABLE, columns, path, format);
    } catch (e) {
      if (e instanceof OutputTypeError) throw new LarderError('LARDER_ERR_BAD_REQUEST', `--out ${opts.outFile}: ${e.message}`);
      throw new LarderError('LARDER_ERR_SOURCE', `--out ${opts.outFile}: cannot write: ${duckdbMessage(e)}`, { cause: e });
    }
    const writeSeconds = seconds(t);

    const warnings: string[] = [];
    if (nullTimeRows > 0) warnings.push(`${nullTimeRows} entity rows have a null "${tsColumn}": their features are holes (${opts.defaults === false ? 'null' : 'defaults'})`);
    for (const w of warnings) progress({ phase: 'warning', message: w });
    const summaries: TrainingViewSummary[] = plans.map((plan, v) => ({
      name: plan.view.name,
      features: chosen.filter((c) => c.view === plan.view).map((c) => c.name),
      present: Number(counts[`present${v}`]),
      outsideMaxAge: Number(counts[`stale${v}`]),
      notFound: Number(counts[`missing${v}`]),
    }));
    return { path, rows, columns, views: summaries, nullTimeRows, seconds: seconds(started), timings: { readSeconds, joinSeconds, writeSeconds }, warnings };
  } finally {
    db.close();
  }
}

/** Counts of the joined table: rows, null times, and per view its rows by status. */
function countsSql(plans: readonly ViewReadPlan[]): string {
  const items = ['count(*) AS rows', `count(*) FILTER (WHERE ${sqlIdent(PROBE_TIME)} IS NULL) AS null_time`];
  const code = (s: (typeof ROW_STATUS_CODES)[number]) => ROW_STATUS_CODES.indexOf(s);
  plans.forEach((_, v) => {
    const status = sqlIdent(rowStatusColumn(v));
    items.push(
      `count(*) FILTER (WHERE ${status} = ${code('NOT_FOUND')}) AS missing${v}`,
      `count(*) FILTER (WHERE ${status} = ${code('OUTSIDE_MAX_AGE')}) AS stale${v}`,
      `count(*) FILTER (WHERE ${status} = ${code('PRESENT')}) AS present${v}`,
    );
  });
  return `SELECT ${items.join(', ')} FROM ${TABLE}`;
}

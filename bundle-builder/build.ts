/**
 * The bundle builder's programmatic API: repo + offline data -> one bundle
 * file (plus its `.manifest.json`) in `outDir`. The CLI (`larder build`)
 * and the benchmarks call this.
 *
 *   load config -> open sources -> check every view against its data
 *   -> per online view: count, as-of snapshot in DuckDB, read into columns
 *   -> encodeBundle (the one writer of the format) -> atomic write.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { VARCHAR } from '@duckdb/node-api';
import { join } from 'node:path';
import { decodeManifest } from '../src/core/bundle/decode.js';
import { type ViewSnapshot, encodeBundle } from '../src/core/bundle/encode.js';
import { type BundleManifest, bundleFileName } from '../src/core/bundle/format.js';
import { LarderError } from '../src/core/errors.js';
import type { FeatureViewDef, RepoDef, SourceDef } from '../src/core/repo/types.js';
import { type LoadedRepo, loadRepo } from './config.js';
import { type Db, duckdbMessage, openDb, queryRows, sqlIdent } from './duckdb.js';
import { type HotKeys, hotKeysForView, readHotKeys } from './hot-keys.js';
import { SnapshotValueError, readSnapshot } from './snapshot-reader.js';
import { EVENT_COLUMN, HOT_PREFIX, KEY_PREFIX, snapshotSql, sourceCountsSql } from './snapshot-sql.js';
import { type ViewReadPlan, checkView, viewJoinKeyNames } from './sources/check.js';
import { type OpenSource, openSource } from './sources/source.js';
import { nextVersion, writeFileAtomic } from './write.js';

export type BuildPhase = 'config' | 'source' | 'read' | 'snapshot' | 'convert' | 'encode' | 'write' | 'warning';

export interface BuildProgress {
  phase: BuildPhase;
  view?: string;
  message: string;
  /** For 'convert': rows read so far of `total`. */
  rows?: number;
  total?: number;
}

export interface BuildOptions {
  repoDir: string;
  outDir: string;
  /** Snapshot time; default now. */
  asOf?: Date;
  /** A hot keys file (see hot-keys.ts for the format). */
  hotKeysFile?: string;
  /**
   * Keys kept per view: the first N of a plain hot keys file, the N largest
   * counts of a `key,count` file (views the file does not apply to keep all
   * keys); without a file, the N keys with the latest event time. 0 gives a
   * bundle with definitions and no keys at all, file or not.
   */
  hotLimit?: number;
  onProgress?: (p: BuildProgress) => void;
  /** DuckDB threads; default all cores. */
  threads?: number;
}

export interface ViewBuildSummary {
  name: string;
  keys: number;
  sourceRows: number;
  /** Rows with a key and an event time not after as_of. */
  visibleRows: number;
  /** Keys whose winning row only the source position decided. */
  ties: number;
  /** How hot keys limited this view. */
  hotKeys: 'all' | 'limit' | { listed: number; found: number } | 'file does not apply';
}

export interface BuildTimings {
  /** Listing files, reading schemas, loading Arrow files, counting source rows. */
  readSeconds: number;
  /** DuckDB's as-of snapshot queries (the same statement snapshotQueryTime times). */
  snapshotSeconds: number;
  /** Moving snapshot rows from DuckDB into typed columns. */
  convertSeconds: number;
  /** encodeBundle: row records, key index, stats, checksums. */
  encodeSeconds: number;
  writeSeconds: number;
}

export interface BuildResult {
  path: string;
  manifestPath: string;
  manifest: BundleManifest;
  bytes: number;
  seconds: number;
  timings: BuildTimings;
  views: ViewBuildSummary[];
  warnings: string[];
  hotKeys?: { file: string; distinct: number; kept: number };
}

const SNAPSHOT_TABLE = '__larder_snapshot';
const HOT_TABLE = '__larder_hot_keys';

const seconds = (fromMs: number) => (performance.now() - fromMs) / 1000;

function checkOptions(opts: BuildOptions): { asOf: Date; hotLimit: number } {
  const asOf = opts.asOf ?? new Date();
  if (!(asOf instanceof Date) || Number.isNaN(asOf.getTime())) throw new RangeError('buildBundle: asOf must be a valid Date');
  const hotLimit = opts.hotLimit ?? Infinity;
  if (hotLimit !== Infinity && (!Number.isInteger(hotLimit) || hotLimit < 0)) {
    throw new RangeError(`buildBundle: hotLimit must be an integer >= 0, got ${opts.hotLimit}`);
  }
  return { asOf, hotLimit };
}

const onlineViews = (repo: RepoDef) => repo.featureViews.filter((v) => v.online !== false);

/** Opens every source used by a view and checks every view against its data; all problems in one error. */
export async function planViews(conn: DuckDBConnection, loaded: LoadedRepo, progress: (p: BuildProgress) => void): Promise<Map<string, ViewReadPlan>> {
  const { repo, file, dir } = loaded;
  const used = new Set(repo.featureViews.map((v) => v.source));
  const sources = new Map<string, OpenSource>();
  for (const def of repo.sources.filter((s: SourceDef) => used.has(s.name))) {
    progress({ phase: 'source', message: `source "${def.name}": reading schema of ${def.path}` });
    try {
      sources.set(def.name, await openSource(conn, dir, def, file));
    } catch (e) {
      if (!(e instanceof LarderError)) throw e;
      const users = repo.featureViews.filter((v) => v.source === def.name).map((v) => `"${v.name}"`);
      throw new LarderError(e.code, `${e.message} (used by feature view ${users.join(', ')})`, { cause: e });
    }
  }
  const plans = new Map<string, ViewReadPlan>();
  const problems: string[] = [];
  for (const view of repo.featureViews) {
    try {
      plans.set(view.name, checkView(repo, view, sources.get(view.source)!, file));
    } catch (e) {
      if (!(e instanceof LarderError)) throw e;
      problems.push(...e.message.split('\n').slice(1).map((l) => l.trim()));
    }
  }
  if (problems.length > 0) throw new LarderError('LARDER_ERR_CONFIG', `feature repo does not match its data:\n  ${problems.join('\n  ')}`);
  return plans;
}

/** Loads a view's hot keys into a temp table of VARCHAR key parts. */
async function loadHotKeys(conn: DuckDBConnection, keys: string[][], width: number): Promise<void> {
  const cols = Array.from({ length: width }, (_, i) => `${HOT_PREFIX}${i} VARCHAR`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${HOT_TABLE} (${cols.join(', ')})`);
  const appender = await conn.createAppender(HOT_TABLE);
  for (const parts of keys) {
    for (const p of parts) appender.appendValue(p, VARCHAR);
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
}

const emptySnapshot = (plan: ViewReadPlan): ViewSnapshot => ({
  name: plan.view.name,
  joinKeys: plan.joinKeys,
  keys: [],
  eventTsMs: new Float64Array(0),
  columns: Object.fromEntries(plan.features.map((f) => [f.name, []])),
});

function sourceFailure(file: string, plan: ViewReadPlan, e: unknown): LarderError {
  const files = plan.source.files.length === 1 ? plan.source.files[0]! : `${plan.source.files.length} files matching ${plan.source.def.path}`;
  const from = `source "${plan.source.def.name}", ${files}`;
  const msg = e instanceof SnapshotValueError
    ? `${file}: ${e.message} (${from})`
    : `${file}: feature view "${plan.view.name}" (${from}): ${duckdbMessage(e)}`;
  return new LarderError('LARDER_ERR_SOURCE', msg, { cause: e });
}

interface ViewRun {
  snapshot: ViewSnapshot;
  summary: ViewBuildSummary;
  warnings: string[];
}

async function buildView(
  conn: DuckDBConnection,
  plan: ViewReadPlan,
  asOfMs: number,
  hot: HotKeys | undefined,
  hotLimit: number,
  timings: BuildTimings,
  progress: (p: BuildProgress) => void,
): Promise<ViewRun> {
  const view = plan.view.name;
  const summary: ViewBuildSummary = { name: view, keys: 0, sourceRows: 0, visibleRows: 0, ties: 0, hotKeys: 'all' };
  const warnings: string[] = [];
  const hotKeys = hot && hotKeysForView(hot, plan.joinKeys.map((k) => k.name));
  if (hot && !hotKeys) summary.hotKeys = 'file does not apply';
  if (hotKeys) summary.hotKeys = { listed: hotKeys.length, found: 0 };
  if (!hot && hotLimit !== Infinity) summary.hotKeys = 'limit';
  if (hotLimit === 0 || hotKeys?.length === 0) {
    progress({ phase: 'snapshot', view, message: `feature view "${view}": no keys requested, skipping data` });
    return { snapshot: emptySnapshot(plan), summary, warnings };
  }

  let t = performance.now();
  progress({ phase: 'read', view, message: `feature view "${view}": reading ${plan.source.files.length} file(s) of source "${plan.source.def.name}"` });
  const counts = (await queryRows(conn, sourceCountsSql(plan, asOfMs)))[0]!;
  summary.sourceRows = Number(counts.total);
  summary.visibleRows = Number(counts.visible);
  const nullKey = Number(counts.null_key);
  const nullTime = Number(counts.null_time);
  if (nullKey > 0) warnings.push(`feature view "${view}": ${nullKey} source rows have a null join key and were skipped`);
  if (nullTime > 0) warnings.push(`feature view "${view}": ${nullTime} source rows have a null ${plan.source.def.timestampField} and were skipped`);
  if (hotKeys) await loadHotKeys(conn, hotKeys, plan.joinKeys.length);
  timings.readSeconds += seconds(t);
  progress({ phase: 'read', view, message: `feature view "${view}": ${summary.sourceRows} source rows, ${summary.visibleRows} visible at as_of` });

  t = performance.now();
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${SNAPSHOT_TABLE} AS ${snapshotSql(plan, { asOfMs, hotKeysTable: hotKeys ? HOT_TABLE : undefined })}`);
  const snapRows = Number((await queryRows(conn, `SELECT count(*) AS n FROM ${SNAPSHOT_TABLE}`))[0]!.n);
  timings.snapshotSeconds += seconds(t);
  // A hot keys file already applied the limit to its own list; views it
  // does not apply to keep all their keys.
  const rows = hot ? snapRows : Math.min(snapRows, hotLimit);
  progress({ phase: 'snapshot', view, message: `feature view "${view}": snapshot holds ${snapRows} keys${rows < snapRows ? `, keeping the ${rows} with the latest event time` : ''}` });

  t = performance.now();
  // Without a hot keys file, a limit keeps the most recently updated keys.
  const order = rows < snapRows ? ` ORDER BY ${EVENT_COLUMN} DESC, ${plan.joinKeys.map((_, i) => `${KEY_PREFIX}${i}`).join(', ')} LIMIT ${rows}` : '';
  const cols = await readSnapshot(conn, `SELECT * FROM ${SNAPSHOT_TABLE}${order}`, rows, {
    what: `feature view "${view}"`,
    joinKeys: plan.joinKeys,
    features: plan.features,
    onRows: (n) => progress({ phase: 'convert', view, message: `feature view "${view}": read ${n} of ${rows} keys`, rows: n, total: rows }),
  });
  await conn.run(`DROP TABLE IF EXISTS ${SNAPSHOT_TABLE}`);
  await conn.run(`DROP TABLE IF EXISTS ${HOT_TABLE}`);
  timings.convertSeconds += seconds(t);

  summary.keys = cols.rows;
  summary.ties = cols.ties;
  if (typeof summary.hotKeys === 'object') summary.hotKeys.found = cols.rows;
  if (cols.ties > 0) {
    warnings.push(`feature view "${view}": for ${cols.ties} keys the latest rows had equal event and created timestamps; the row latest in source order (file name, then row) was taken`);
  }
  const snapshot: ViewSnapshot = {
    name: view,
    joinKeys: plan.joinKeys,
    keys: cols.keys,
    eventTsMs: cols.eventTsMs,
    ...(plan.createdTsSql ? { createdTsMs: cols.createdTsMs } : {}),
    columns: cols.columns,
  };
  return { snapshot, summary, warnings };
}

/** Builds the next bundle version of the repo in `repoDir` into `outDir`. */
export async function buildBundle(opts: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const { asOf, hotLimit } = checkOptions(opts);
  const progress = opts.onProgress ?? (() => undefined);
  const timings: BuildTimings = { readSeconds: 0, snapshotSeconds: 0, convertSeconds: 0, encodeSeconds: 0, writeSeconds: 0 };

  progress({ phase: 'config', message: `loading feature repo ${opts.repoDir}` });
  const loaded = await loadRepo(opts.repoDir);
  const { repo } = loaded;
  const online = onlineViews(repo);
  let hot: HotKeys | undefined;
  if (opts.hotKeysFile !== undefined) {
    const columns = new Set(online.flatMap((v: FeatureViewDef) => viewJoinKeyNames(repo, v)));
    hot = await readHotKeys(opts.hotKeysFile, columns, hotLimit);
  }

  const db: Db = await openDb({ threads: opts.threads });
  const snapshots: ViewSnapshot[] = [];
  const summaries: ViewBuildSummary[] = [];
  const warnings: string[] = [];
  try {
    let t = performance.now();
    const plans = await planViews(db.conn, loaded, progress);
    timings.readSeconds += seconds(t);
    for (const view of online) {
      const plan = plans.get(view.name)!;
      let run: ViewRun;
      try {
        run = await buildView(db.conn, plan, asOf.getTime(), hot, hotLimit, timings, progress);
      } catch (e) {
        if (e instanceof LarderError) throw e;
        throw sourceFailure(loaded.file, plan, e);
      }
      snapshots.push(run.snapshot);
      summaries.push(run.summary);
      for (const w of run.warnings) {
        warnings.push(w);
        progress({ phase: 'warning', view: view.name, message: w });
      }
    }
  } finally {
    db.close();
  }
  const unapplied = summaries.filter((s) => s.hotKeys === 'file does not apply').map((s) => s.name);
  if (hot && unapplied.length > 0) {
    const w = `hot keys file ${hot.file} does not apply to ${unapplied.map((v) => `"${v}"`).join(', ')} (their join keys differ from ${hot.columns ? `its header ${hot.columns.join(',')}` : 'a single key column'}); those views hold all their keys`;
    warnings.push(w);
    progress({ phase: 'warning', message: w });
  }

  const { version, parentVersion } = await nextVersion(opts.outDir, repo.project);
  let t = performance.now();
  progress({ phase: 'encode', message: `encoding ${repo.project} v${version}` });
  const bytes = await encodeBundle({
    project: repo.project,
    version,
    parentVersion,
    createdAt: new Date(),
    asOf,
    repo,
    views: snapshots,
    warnings,
  });
  const manifest = await decodeManifest(bytes);
  timings.encodeSeconds = seconds(t);

  t = performance.now();
  const path = join(opts.outDir, bundleFileName(repo.project, version));
  const manifestPath = `${path}.manifest.json`;
  progress({ phase: 'write', message: `writing ${path}` });
  // The manifest first: whoever sees the bundle can already read its manifest.
  await writeFileAtomic(manifestPath, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
  await writeFileAtomic(path, bytes);
  timings.writeSeconds = seconds(t);

  return {
    path,
    manifestPath,
    manifest,
    bytes: bytes.length,
    seconds: seconds(started),
    timings,
    views: summaries,
    warnings,
    hotKeys: hot && { file: hot.file, distinct: hot.distinct, kept: hot.keys.length },
  };
}

export interface SnapshotQueryOptions {
  repoDir: string;
  /** The online view to snapshot; default the first online view. */
  view?: string;
  asOf?: Date;
  threads?: number;
}

/**
 * Runs only DuckDB's as-of snapshot query for one view, materialized into a
 * temp table (no transfer to JS), and times it: the baseline a build is
 * compared against. Source opening and schema checks are not timed.
 */
export async function snapshotQueryTime(opts: SnapshotQueryOptions): Promise<{ view: string; rows: number; seconds: number }> {
  const asOf = opts.asOf ?? new Date();
  const loaded = await loadRepo(opts.repoDir);
  const view = opts.view ? loaded.repo.featureViews.find((v) => v.name === opts.view) : onlineViews(loaded.repo)[0];
  if (!view) throw new LarderError('LARDER_ERR_CONFIG', `${loaded.file}: no feature view ${opts.view ? `"${opts.view}"` : 'online'}`);
  const db = await openDb({ threads: opts.threads });
  try {
    const plans = await planViews(db.conn, { ...loaded, repo: { ...loaded.repo, featureViews: [view] } }, () => undefined);
    const plan = plans.get(view.name)!;
    const t = performance.now();
    await db.conn.run(`CREATE TEMP TABLE ${sqlIdent(SNAPSHOT_TABLE)} AS ${snapshotSql(plan, { asOfMs: asOf.getTime() })}`);
    const rows = Number((await queryRows(db.conn, `SELECT count(*) AS n FROM ${SNAPSHOT_TABLE}`))[0]!.n);
    return { view: view.name, rows, seconds: seconds(t) };
  } finally {
    db.close();
  }
}

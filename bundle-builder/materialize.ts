/**
 * Materialize: the as-of row of every key of every online view, written to
 * Redis. The same snapshot SQL as a build (snapshot-sql.ts, generated from
 * the value rule), the same reader into columns, and the same row encoder
 * (RowValueCodec over encodeRows): a key's value in Redis is the row the
 * bundle would hold. Stale rows are written too, so Redis answers
 * OUTSIDE_MAX_AGE for them exactly as the bundle does. Writes keep the
 * newest row (see redis/rows.ts), so materializing never hides a newer
 * pushed row.
 *
 *   --since t  writes only keys whose winning row is newer than t (by event
 *              or created time): the keys whose value can have changed
 *              since a materialize at t.
 */
import { type PackedRowValues, RowValueCodec } from '../src/core/bundle/row-value.js';
import { LarderError } from '../src/core/errors.js';
import { type RedisTarget, closeRedis, connectRedis, describeTarget, waitReady } from '../src/sidecar/redis/connection.js';
import { ViewKeys } from '../src/sidecar/redis/keys.js';
import { RowWriter } from '../src/sidecar/redis/rows.js';
import { type BuildProgress, onlineViews, planViews } from './build.js';
import { loadRepo } from './config.js';
import { duckdbMessage, openDb, queryRows } from './duckdb.js';
import { type SnapshotColumns, readSnapshotBatches } from './snapshot-reader.js';
import { CREATED_COLUMN, EVENT_COLUMN, snapshotSql } from './snapshot-sql.js';

export interface MaterializeOptions {
  repoDir: string;
  redis: RedisTarget;
  /** Key namespace (keys.ts); default `larder`. */
  namespace?: string;
  /** Snapshot time; default now. */
  asOf?: Date;
  /** Only keys whose winning row is newer than this. */
  since?: Date;
  /** Let each written key expire after this many seconds (0: never). */
  keyTtlSeconds?: number;
  threads?: number;
  /** Rows encoded and sent per batch. */
  batchRows?: number;
  onProgress?: (p: BuildProgress) => void;
}

export interface ViewMaterializeSummary {
  name: string;
  /** Keys in the snapshot (with --since: those whose winner is newer than it). */
  keys: number;
  /** Keys stored in Redis. */
  written: number;
  /** Keys Redis already held a newer row for (pushed), left as they were. */
  kept: number;
  ties: number;
}

export interface MaterializeResult {
  project: string;
  target: string;
  namespace: string;
  asOf: string;
  since: string | null;
  views: ViewMaterializeSummary[];
  warnings: string[];
  seconds: number;
  /**
   * snapshotSeconds: DuckDB's as-of snapshot (and count). writeSeconds: the
   * write phase, reading the snapshot from DuckDB into columns, encoding and
   * writing to Redis, overlapped (streamed batch by batch). Of the write
   * phase, convertSeconds were spent reading DuckDB into columns and
   * encodeSeconds encoding rows, while Redis stored earlier batches.
   */
  timings: { snapshotSeconds: number; writeSeconds: number; convertSeconds: number; encodeSeconds: number };
  /** Keys written per second of the write phase (DuckDB to columns, encode and Redis). */
  writeKeysPerSecond: number;
}

const SNAPSHOT_TABLE = '__larder_materialize';
/** Batches sent and not yet stored: Redis stores them while the next is read and encoded. */
const MAX_BATCHES_IN_FLIGHT = 4;
const seconds = (fromMs: number) => (performance.now() - fromMs) / 1000;

export async function materialize(opts: MaterializeOptions): Promise<MaterializeResult> {
  const started = performance.now();
  const asOf = opts.asOf ?? new Date();
  const namespace = opts.namespace ?? 'larder';
  const batchRows = opts.batchRows ?? 4096;
  const ttlMs = Math.round((opts.keyTtlSeconds ?? 0) * 1000);
  const progress = opts.onProgress ?? (() => undefined);
  const timings = { snapshotSeconds: 0, writeSeconds: 0, convertSeconds: 0, encodeSeconds: 0 };

  progress({ phase: 'config', message: `loading feature repo ${opts.repoDir}` });
  const loaded = await loadRepo(opts.repoDir);
  const { repo } = loaded;
  const target = describeTarget(opts.redis);
  progress({ phase: 'config', message: `connecting to ${target}` });
  const client = connectRedis(opts.redis, { commandTimeoutMs: 30_000, connectTimeoutMs: 5000, name: 'larder-materialize' });
  const db = await openDb({ threads: opts.threads });
  const views: ViewMaterializeSummary[] = [];
  const warnings: string[] = [];
  let sent = 0;
  try {
    try {
      await waitReady(client, opts.redis, 5000);
    } catch (e) {
      throw new LarderError('LARDER_ERR_REDIS', (e as Error).message);
    }
    const plans = await planViews(db.conn, loaded, progress);
    for (const view of onlineViews(repo)) {
      const plan = plans.get(view.name)!;
      const codec = new RowValueCodec(view.features);
      const keys = new ViewKeys(namespace, repo.project, view.name, codec.fingerprint);
      const summary: ViewMaterializeSummary = { name: view.name, keys: 0, written: 0, kept: 0, ties: 0 };

      let t = performance.now();
      progress({ phase: 'snapshot', view: view.name, message: `feature view "${view.name}": as-of snapshot` });
      let rows: number;
      const filter = opts.since ? ` WHERE ${EVENT_COLUMN} > ${opts.since.getTime()} OR ${CREATED_COLUMN} > ${opts.since.getTime()}` : '';
      try {
        await db.conn.run(`CREATE OR REPLACE TEMP TABLE ${SNAPSHOT_TABLE} AS ${snapshotSql(plan, { asOfMs: asOf.getTime() })}`);
        rows = Number((await queryRows(db.conn, `SELECT count(*) AS n FROM ${SNAPSHOT_TABLE}${filter}`))[0]!.n);
      } catch (e) {
        throw new LarderError('LARDER_ERR_SOURCE', `${loaded.file}: feature view "${view.name}" (source "${plan.source.def.name}"): ${duckdbMessage(e)}`, { cause: e });
      }
      timings.snapshotSeconds += seconds(t);
      progress({ phase: 'snapshot', view: view.name, message: `feature view "${view.name}": ${rows} keys${opts.since ? ` changed since ${opts.since.toISOString()}` : ''}` });

      // The write phase streams: each batch of rows is read from DuckDB into
      // columns, encoded and sent, and DuckDB reads the next while Redis
      // stores it, so at most a few batches are held as JS values.
      t = performance.now();
      // Most keys are absent from Redis on a first materialize: MSETNX first (see redis/rows.ts).
      const writer = new RowWriter(client, keys, { ttlMs, absentFirst: true });
      const inFlight = new Set<Promise<void>>();
      let failed: { error: unknown } | undefined;
      let batchStarted = performance.now();
      const onBatch = async (cols: SnapshotColumns) => {
        const converted = performance.now();
        timings.convertSeconds += (converted - batchStarted) / 1000;
        summary.ties += cols.ties;
        let values: PackedRowValues;
        try {
          values = codec.encodePacked(cols.keys, cols.eventTsMs, plan.createdTsSql ? cols.createdTsMs : undefined, view.features.map((f) => cols.columns[f.name]!));
        } catch (e) {
          if (e instanceof LarderError && e.code === 'LARDER_ERR_VALUE') throw new LarderError(e.code, `feature view "${view.name}", ${e.message}`, { cause: e });
          throw e;
        }
        timings.encodeSeconds += seconds(converted);
        // A failed write is kept, not left rejected: DuckDB is read (awaited) before anyone awaits the write.
        const tracked: Promise<void> = writer.write(cols.keys, values).then(
          (r) => {
            summary.written += r.written;
            summary.kept += r.kept;
            sent += cols.rows;
            progress({ phase: 'convert', view: view.name, message: `feature view "${view.name}": wrote ${summary.written + summary.kept} of ${rows} keys`, rows: summary.written + summary.kept, total: rows });
          },
          (e: unknown) => {
            failed ??= { error: e };
          },
        ).finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
        if (inFlight.size >= MAX_BATCHES_IN_FLIGHT) await Promise.race(inFlight);
        if (failed) throw failed.error;
        batchStarted = performance.now();
      };
      try {
        summary.keys = await readSnapshotBatches(db.conn, `SELECT * FROM ${SNAPSHOT_TABLE}${filter}`, batchRows, {
          what: `feature view "${view.name}"`,
          joinKeys: plan.joinKeys,
          features: plan.features,
        }, onBatch);
      } finally {
        // Whatever failed, the writes already sent settle before the view ends.
        await Promise.all(inFlight);
      }
      if (failed) throw failed.error;
      await db.conn.run(`DROP TABLE IF EXISTS ${SNAPSHOT_TABLE}`);
      if (summary.ties > 0) {
        const w = `feature view "${view.name}": for ${summary.ties} keys the latest rows had equal event and created timestamps; the row latest in source order (file name, then row) was taken`;
        warnings.push(w);
        progress({ phase: 'warning', view: view.name, message: w });
      }
      timings.writeSeconds += seconds(t);
      views.push(summary);
    }
  } catch (e) {
    if (e instanceof LarderError) throw e;
    throw new LarderError('LARDER_ERR_REDIS', `materialize to ${target} failed: ${(e as Error).message}`, { cause: e });
  } finally {
    db.close();
    closeRedis(client);
  }
  return {
    project: repo.project,
    target,
    namespace,
    asOf: asOf.toISOString(),
    since: opts.since ? opts.since.toISOString() : null,
    views,
    warnings,
    seconds: seconds(started),
    timings,
    writeKeysPerSecond: timings.writeSeconds > 0 ? sent / timings.writeSeconds : 0,
  };
}

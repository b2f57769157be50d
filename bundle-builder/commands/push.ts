/**
 * `larder push <repo> <file> --source <name> [--to ...] (--redis <url> | --redis-cluster <seeds>)`:
 * Feast's push from a file (Parquet, CSV or JSON, read by DuckDB). The rows
 * are checked exactly as POST /push checks a body (one plan, plan.ts) and
 * written the same way: online to Redis and its change stream, offline as a
 * new Parquet file the source reads.
 * Exit codes: 0 pushed, 2 bad options, 1 bad rows or a failure.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LarderError } from '../../src/core/errors.js';
import type { ViewSpec } from '../../src/core/resolve/tier.js';
import { pushOffline } from '../../src/sidecar/push/offline.js';
import { pushOnline } from '../../src/sidecar/push/online.js';
import { type PushPlan, planPush } from '../../src/sidecar/push/plan.js';
import { closeRedis, connectRedis, describeTarget, redisTargetOf, waitReady } from '../../src/sidecar/redis/connection.js';
import { namespaceProblem } from '../../src/sidecar/redis/keys.js';
import { onlineViews, planViews } from '../build.js';
import { loadRepo } from '../config.js';
import { duckdbMessage, openDb, queryRows, sqlString } from '../duckdb.js';

const HELP = `usage: larder push <repo> <file> --source <name> [options]

Pushes the rows of <file> (.parquet, .csv or .json) as Feast's /push does:
checked against the feature view's schema (nothing is written if a row is
bad), then written online (Redis, and the change stream every sidecar
tails) and/or offline (a new Parquet file the view's source reads).

options (flag, environment variable, default):
  --source <name>            (required) a feature view, or a source (every online view reading it)
  --to <where>               online. online, offline or online_and_offline
  --redis <url>              LARDER_REDIS            redis://[:password@]host:port[/db] or rediss://
  --redis-cluster <seeds>    LARDER_REDIS_CLUSTER    Redis Cluster seed nodes host:port,host:port
  --redis-namespace <ns>     LARDER_REDIS_NAMESPACE  larder
  --redis-stream-max-len <n> LARDER_REDIS_STREAM_MAX_LEN 100000. Bound of the change stream
  -h, --help

The file holds the join keys, the source's time column(s) and every feature.`;

class UsageError extends Error {}

/** A DuckDB value as JSON carries it in a /push body. */
function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonValue);
  return v;
}

/** The file's rows as a /push `df`: one array per column. */
async function readDf(file: string): Promise<Record<string, unknown[]>> {
  const reader = /\.(parquet|pq)$/i.test(file) ? 'read_parquet' : /\.(csv|tsv)(\.gz)?$/i.test(file) ? 'read_csv' : /\.(json|jsonl|ndjson)$/i.test(file) ? 'read_json_auto' : undefined;
  if (!reader) throw new LarderError('LARDER_ERR_BAD_PUSH', `cannot tell the format of ${file} from its extension (.parquet, .csv or .json)`);
  const db = await openDb({ threads: 1 });
  try {
    let rows: Record<string, unknown>[];
    try {
      rows = await queryRows(db.conn, `SELECT * FROM ${reader}(${sqlString(file)})`);
    } catch (e) {
      throw new LarderError('LARDER_ERR_BAD_PUSH', `cannot read ${file}: ${duckdbMessage(e)}`);
    }
    const df: Record<string, unknown[]> = {};
    for (const name of Object.keys(rows[0] ?? {})) df[name] = rows.map((r) => jsonValue(r[name]));
    return df;
  } finally {
    db.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        source: { type: 'string' },
        to: { type: 'string', default: 'online' },
        redis: { type: 'string' },
        'redis-cluster': { type: 'string' },
        'redis-namespace': { type: 'string' },
        'redis-stream-max-len': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    console.error(`larder push: ${(e as Error).message}\nRun "larder push --help" for the options.`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const env = process.env;
  const pick = (flag: string | undefined, name: string) => flag ?? (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  let target;
  let namespace = 'larder';
  let maxLen = 100_000;
  try {
    if (positionals.length !== 2) throw new UsageError('expected <repo> <file>');
    if (!values.source) throw new UsageError('missing --source <name> (a feature view, or a source)');
    const to = values.to!;
    if (to !== 'offline') {
      target = redisTargetOf(pick(values.redis, 'LARDER_REDIS'), pick(values['redis-cluster'], 'LARDER_REDIS_CLUSTER'));
      if (target === undefined) throw new UsageError(`--to ${to} needs --redis <url> or --redis-cluster <seeds>`);
      if ('invalid' in target) throw new UsageError(target.invalid);
    }
    const ns = pick(values['redis-namespace'], 'LARDER_REDIS_NAMESPACE');
    if (ns !== undefined) {
      const problem = namespaceProblem(ns);
      if (problem) throw new UsageError(`--redis-namespace ${problem}`);
      namespace = ns;
    }
    const len = pick(values['redis-stream-max-len'], 'LARDER_REDIS_STREAM_MAX_LEN');
    if (len !== undefined) {
      if (!/^\d+$/.test(len) || Number(len) < 100) throw new UsageError('--redis-stream-max-len must be an integer >= 100');
      maxLen = Number(len);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`larder push: ${e.message}\nRun "larder push --help" for the options.`);
    return 2;
  }

  const [repoDir, file] = positionals as [string, string];
  const loaded = await loadRepo(repoDir);
  const db = await openDb({ threads: 1 });
  let views: Map<string, ViewSpec>;
  try {
    const plans = await planViews(db.conn, loaded, () => undefined);
    views = new Map(onlineViews(loaded.repo).map((def) => {
      const p = plans.get(def.name)!;
      return [def.name, { name: def.name, def, features: def.features, featureIndex: new Map(def.features.map((f, i) => [f.name, i])), joinKeys: p.joinKeys, ttlSeconds: def.ttlSeconds }];
    }));
  } finally {
    db.close();
  }
  const plan: PushPlan = planPush({ views, repo: loaded.repo }, { push_source_name: values.source, to: values.to, df: await readDf(resolve(file)) });
  if (plan.to !== 'online') {
    const path = await pushOffline(resolve(repoDir), plan);
    console.log(`pushed ${plan.rows} rows offline: ${path}`);
  }
  if (target && !('invalid' in target)) {
    const client = connectRedis(target, { commandTimeoutMs: 10_000, connectTimeoutMs: 5000, name: 'larder-push' });
    try {
      try {
        await waitReady(client, target, 5000);
      } catch (e) {
        throw new LarderError('LARDER_ERR_REDIS', (e as Error).message);
      }
      const r = await pushOnline({ client, namespace, project: loaded.repo.project, streamMaxLen: maxLen }, plan);
      console.log(`pushed ${plan.rows} rows online to ${describeTarget(target)}: ${r.written} stored, ${r.kept} older than the row Redis held`);
    } finally {
      closeRedis(client);
    }
  }
  return 0;
}

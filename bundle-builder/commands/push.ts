/**
 * `larder push <repo> <file> --source <name> [--to ...] (--redis <url> | --redis-cluster <seeds>)`:
 * Feast's push from a file (Parquet, CSV or JSON, read by DuckDB). The rows
 * are checked exactly as POST /push checks a body (one plan, plan.ts) and
 * written the same way: online to Redis and its change stream, offline as a
 * new Parquet file the source reads.
 * Exit codes: 0 pushed, 2 bad options, 1 bad rows or a failure.
 */
import { resolve } from 'node:path';
import { LarderError } from '../../src/core/errors.js';
import { type CommandSpec, helpText, integer, nonEmpty, parseCommand } from '../../src/option-table.js';
import type { ServeOptions } from '../../src/sidecar/options.js';
import type { ViewSpec } from '../../src/core/resolve/tier.js';
import { pushOffline } from '../../src/sidecar/push/offline.js';
import { pushOnline } from '../../src/sidecar/push/online.js';
import { type PushPlan, planPush } from '../../src/sidecar/push/plan.js';
import { closeRedis, connectRedis, describeTarget, redisTargetOf, waitReady } from '../../src/sidecar/redis/connection.js';
import { redisOptions } from './materialize.js';
import { onlineViews, planViews } from '../build.js';
import { loadRepo } from '../config.js';
import { duckdbMessage, openDb, queryRows, sqlString } from '../duckdb.js';

export interface PushArgs extends Pick<ServeOptions, 'redis' | 'redisCluster' | 'redisNamespace' | 'redisStreamMaxLen'> {
  repoDir: string;
  file: string;
  source: string;
  to: 'online' | 'offline' | 'online_and_offline';
}

export const PUSH_COMMAND: CommandSpec<PushArgs> = {
  name: 'push',
  about: "Pushes the rows of <file> (.parquet, .csv or .json) as Feast's /push does: checked against the feature view's schema (nothing is written if a row is bad), then written online (Redis, and the change stream every sidecar tails) and/or offline (a new Parquet file the view's source reads). The file holds the join keys, the source's time column(s) and every feature.",
  positionals: [
    { key: 'repoDir', name: 'repo', required: true, description: 'The feature repo folder (with larder.config.ts, .mjs, .js or .json).' },
    { key: 'file', name: 'file', required: true, description: 'The rows to push: .parquet, .csv or .json.' },
  ],
  options: [
    {
      key: 'source', flag: '--source', env: 'LARDER_PUSH_SOURCE', valueName: '<name>', defaultText: undefined,
      description: 'A feature view, or a source (every online view reading it), as Feast\'s push_source_name.',
      parse: nonEmpty('a feature view or source name'),
    },
    {
      key: 'to', flag: '--to', env: 'LARDER_PUSH_TO', valueName: '<where>', defaultText: 'online',
      description: 'online (Redis and its change stream), offline (a Parquet file the source reads) or online_and_offline.',
      parse: (raw) => (raw === 'online' || raw === 'offline' || raw === 'online_and_offline' ? raw : { invalid: 'must be online, offline or online_and_offline' }),
    },
    ...redisOptions<PushArgs>(),
    {
      key: 'redisStreamMaxLen', flag: '--redis-stream-max-len', env: 'LARDER_REDIS_STREAM_MAX_LEN', valueName: '<n>', defaultText: '100000',
      description: 'Bound of the Redis change stream the pushed rows are appended to (as serve\'s option of the same name).',
      parse: integer(100, 100_000_000, 'an integer from 100 to 100000000'),
    },
  ],
};

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
  const parsed = parseCommand(PUSH_COMMAND, argv, process.env);
  if (parsed.help) {
    console.log(helpText(PUSH_COMMAND));
    return 0;
  }
  const { repoDir, file, source, to, redisNamespace: namespace, redisStreamMaxLen: maxLen } = parsed.options;
  let target;
  if (to !== 'offline') {
    target = redisTargetOf(parsed.options.redis, parsed.options.redisCluster);
    if (target === undefined) throw new LarderError('LARDER_ERR_OPTION', `--to ${to} needs --redis <url> or --redis-cluster <seeds> (or LARDER_REDIS, LARDER_REDIS_CLUSTER)`);
    if ('invalid' in target) throw new LarderError('LARDER_ERR_OPTION', target.invalid);
  }

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
  const plan: PushPlan = planPush({ views, repo: loaded.repo }, { push_source_name: source, to, df: await readDf(resolve(file)) });
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

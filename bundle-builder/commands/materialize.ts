/**
 * `larder materialize <repo> --redis <url> [--as-of <ISO>] [--since <ISO>] [--key-ttl <s>]`.
 * Exit codes: 0 written, 2 bad options, 1 a failure (bad config or data,
 * Redis unreachable; the dispatcher prints the LarderError).
 */
import { parseArgs } from 'node:util';
import { redisTargetOf } from '../../src/sidecar/redis/connection.js';
import { namespaceProblem } from '../../src/sidecar/redis/keys.js';
import { type MaterializeOptions, type MaterializeResult, materialize } from '../materialize.js';
import { progressPrinter } from '../progress.js';
import { parseAsOf } from './build.js';

const HELP = `usage: larder materialize <repo> (--redis <url> | --redis-cluster <seeds>) [options]

Writes the as-of row of every key of every online feature view of <repo> to
Redis (the same rule and row encoding as a bundle), pipelined. A key whose
row in Redis is newer (pushed) keeps it.

options (flag, environment variable, default):
  --redis <url>             LARDER_REDIS            redis://[:password@]host:port[/db] or rediss://...
  --redis-cluster <seeds>   LARDER_REDIS_CLUSTER    Redis Cluster seed nodes host:port,host:port
  --redis-namespace <ns>    LARDER_REDIS_NAMESPACE  larder. First part of every key (see the README)
  --as-of <time>            LARDER_AS_OF            now. Snapshot time, ISO 8601
  --since <time>            LARDER_SINCE            none. Only keys whose winning row is newer than
                                                    this (event or created time): incremental
  --key-ttl <seconds>       LARDER_KEY_TTL          0 (never). Let written keys expire: a memory
                                                    bound that turns stale rows into NOT_FOUND
  --threads <n>             LARDER_THREADS          all cores. DuckDB worker threads
  --json                                            print the summary as JSON
  -h, --help                                        show this help

Progress goes to stderr, the summary to stdout.`;

class UsageError extends Error {}

function sinceOf(raw: string): Date {
  try {
    return parseAsOf(raw);
  } catch (e) {
    throw new UsageError((e as Error).message.replace('--as-of', '--since'));
  }
}

export function parseMaterializeArgs(argv: string[], env: NodeJS.ProcessEnv): { help: true } | { help: false; json: boolean; options: MaterializeOptions } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        redis: { type: 'string' },
        'redis-cluster': { type: 'string' },
        'redis-namespace': { type: 'string' },
        'as-of': { type: 'string' },
        since: { type: 'string' },
        'key-ttl': { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing <repo> (the feature repo folder)' : `expected one <repo>, got ${positionals.join(' ')}`);
  const pick = (flag: string | undefined, name: string) => flag ?? (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  const target = redisTargetOf(pick(values.redis, 'LARDER_REDIS'), pick(values['redis-cluster'], 'LARDER_REDIS_CLUSTER'));
  if (target === undefined) throw new UsageError('missing --redis <url> or --redis-cluster <seeds> (or LARDER_REDIS, LARDER_REDIS_CLUSTER)');
  if ('invalid' in target) throw new UsageError(target.invalid);
  const options: MaterializeOptions = { repoDir: positionals[0]!, redis: target };
  const ns = pick(values['redis-namespace'], 'LARDER_REDIS_NAMESPACE');
  if (ns !== undefined) {
    const problem = namespaceProblem(ns);
    if (problem) throw new UsageError(`--redis-namespace ${problem}`);
    options.namespace = ns;
  }
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const asOf = pick(values['as-of'], 'LARDER_AS_OF');
  if (asOf !== undefined) options.asOf = wrap(() => parseAsOf(asOf));
  const since = pick(values.since, 'LARDER_SINCE');
  if (since !== undefined) options.since = sinceOf(since);
  const ttl = pick(values['key-ttl'], 'LARDER_KEY_TTL');
  if (ttl !== undefined) {
    if (!/^\d+$/.test(ttl.trim())) throw new UsageError(`--key-ttl ${JSON.stringify(ttl)} must be a whole number of seconds (0: keys never expire)`);
    options.keyTtlSeconds = Number(ttl);
  }
  const threads = pick(values.threads, 'LARDER_THREADS');
  if (threads !== undefined) {
    if (!/^\d+$/.test(threads.trim()) || Number(threads) < 1) throw new UsageError(`--threads ${JSON.stringify(threads)} must be an integer >= 1`);
    options.threads = Number(threads);
  }
  return { help: false, json: values.json ?? false, options };
}

export function formatMaterializeSummary(r: MaterializeResult): string {
  const lines = [`materialized ${r.project} as of ${r.asOf}${r.since ? ` (keys changed since ${r.since})` : ''} to ${r.target}, namespace "${r.namespace}"`];
  const rows = [['view', 'keys', 'written', 'kept (newer in Redis)'], ...r.views.map((v) => [v.name, String(v.keys), String(v.written), String(v.kept)])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) lines.push('  ' + row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
  if (r.views.length === 0) lines.push('  (no online feature views)');
  const written = r.views.reduce((a, v) => a + v.written, 0);
  const t = r.timings;
  lines.push(`wrote:    ${written} keys`);
  lines.push(`seconds:  ${r.seconds.toFixed(2)} (snapshot ${t.snapshotSeconds.toFixed(2)}, convert ${t.convertSeconds.toFixed(2)}, write ${t.writeSeconds.toFixed(2)}: ${Math.round(r.writeKeysPerSecond)} keys/s)`);
  lines.push(`warnings: ${r.warnings.length}${r.warnings.map((w) => `\n  - ${w}`).join('')}`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseMaterializeArgs>;
  try {
    args = parseMaterializeArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`larder materialize: ${e.message}\nRun "larder materialize --help" for the options.`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const printer = progressPrinter();
  try {
    const result = await materialize({ ...args.options, onProgress: printer.onProgress });
    printer.done();
    console.log(args.json ? JSON.stringify(result, null, 2) : formatMaterializeSummary(result));
    return 0;
  } finally {
    printer.done();
  }
}

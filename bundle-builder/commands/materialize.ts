/**
 * `larder materialize <repo> --redis <url> [--as-of <ISO>] [--since <ISO>] [--key-ttl <s>]`.
 * Exit codes: 0 written, 2 bad options, 1 a failure (bad config or data,
 * Redis unreachable; the dispatcher prints the LarderError).
 */
import { LarderError } from '../../src/core/errors.js';
import { type CommandSpec, type OptionSpec, type ParsedCommand, helpText, integer, parseCommand, switchValue } from '../../src/option-table.js';
import { redisTargetOf } from '../../src/sidecar/redis/connection.js';
import { SERVE_OPTIONS, type ServeOptions } from '../../src/sidecar/options.js';
import { type MaterializeOptions, type MaterializeResult, materialize } from '../materialize.js';
import { progressPrinter } from '../progress.js';
import { BUILD_OPTIONS, type BuildArgs, parseAsOf } from './build.js';

type RedisArgs = Pick<ServeOptions, 'redis' | 'redisCluster' | 'redisNamespace'>;

export interface MaterializeArgs extends RedisArgs {
  repoDir: string;
  asOf?: Date;
  since?: Date;
  keyTtlSeconds: number;
  threads?: number;
  json: boolean;
}

/** The Redis options materialize and push share with serve: one definition each. */
export function redisOptions<O extends RedisArgs>(): readonly OptionSpec<O>[] {
  const keys: readonly string[] = ['redis', 'redisCluster', 'redisNamespace'];
  return SERVE_OPTIONS.filter((s) => keys.includes(s.key)) as unknown as readonly OptionSpec<O>[];
}

const fromBuild = (key: keyof BuildArgs) => BUILD_OPTIONS.find((o) => o.key === key) as unknown as OptionSpec<MaterializeArgs>;

export const MATERIALIZE_COMMAND: CommandSpec<MaterializeArgs> = {
  name: 'materialize',
  about: 'Writes the as-of row of every key of every online feature view of <repo> to Redis (the same rule and row encoding as a bundle), pipelined. A key whose row in Redis is newer (pushed) keeps it. Needs --redis or --redis-cluster. Progress goes to stderr, the summary to stdout.',
  positionals: [{ key: 'repoDir', name: 'repo', required: true, description: 'The feature repo folder (with larder.config.ts, .mjs, .js or .json).' }],
  options: [
    ...redisOptions<MaterializeArgs>(),
    fromBuild('asOf'),
    {
      key: 'since', flag: '--since', env: 'LARDER_SINCE', valueName: '<time>', defaultText: undefined, whenUnset: 'every key',
      description: 'Only keys whose winning row is newer than this (event or created time), ISO 8601: an incremental materialize.',
      parse: parseAsOf,
    },
    {
      key: 'keyTtlSeconds', flag: '--key-ttl', env: 'LARDER_KEY_TTL', valueName: '<seconds>', defaultText: '0',
      description: 'Let written keys expire after this many seconds: a memory bound that turns stale rows into NOT_FOUND. 0: keys never expire.',
      parse: integer(0, 10 * 365 * 86_400, 'a whole number of seconds (0: never expire)'),
    },
    fromBuild('threads'),
    { key: 'json', flag: '--json', env: 'LARDER_JSON', defaultText: 'false', description: 'Print the summary as JSON.', parse: switchValue },
  ],
};

/** Reads materialize's arguments; throws LARDER_ERR_USAGE or LARDER_ERR_OPTION naming the flag and its variable. */
export function parseMaterializeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand<MaterializeArgs> {
  return parseCommand(MATERIALIZE_COMMAND, argv, env);
}

/** The materialize run the arguments describe; LARDER_ERR_OPTION without a Redis to write to. */
export function materializeOptions(args: MaterializeArgs): MaterializeOptions {
  const target = redisTargetOf(args.redis, args.redisCluster);
  if (target === undefined) throw new LarderError('LARDER_ERR_OPTION', 'missing --redis <url> or --redis-cluster <seeds> (or LARDER_REDIS, LARDER_REDIS_CLUSTER)');
  if ('invalid' in target) throw new LarderError('LARDER_ERR_OPTION', target.invalid);
  const options: MaterializeOptions = { repoDir: args.repoDir, redis: target, namespace: args.redisNamespace, keyTtlSeconds: args.keyTtlSeconds };
  if (args.asOf) options.asOf = args.asOf;
  if (args.since) options.since = args.since;
  if (args.threads !== undefined) options.threads = args.threads;
  return options;
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
  lines.push(`seconds:  ${r.seconds.toFixed(2)} (snapshot ${t.snapshotSeconds.toFixed(2)}, write ${t.writeSeconds.toFixed(2)}: ${Math.round(r.writeKeysPerSecond)} keys/s; of the write, DuckDB to columns ${t.convertSeconds.toFixed(2)}, encode ${t.encodeSeconds.toFixed(2)})`);
  lines.push(`warnings: ${r.warnings.length}${r.warnings.map((w) => `\n  - ${w}`).join('')}`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseMaterializeArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText(MATERIALIZE_COMMAND));
    return 0;
  }
  const options = materializeOptions(parsed.options);
  const printer = progressPrinter();
  try {
    const result = await materialize({ ...options, onProgress: printer.onProgress });
    printer.done();
    console.log(parsed.options.json ? JSON.stringify(result, null, 2) : formatMaterializeSummary(result));
    return 0;
  } finally {
    printer.done();
  }
}

/**
 * The options of `larder serve`, once. Every option has a flag, an
 * environment variable, a default and a description; `--help` and the
 * README's table are both rendered from this list. Precedence: flag, then
 * environment variable, then default.
 */
import { parseArgs } from 'node:util';
import { parseClusterSeeds, redisUrlProblem } from './redis/connection.js';
import { namespaceProblem } from './redis/keys.js';

export interface ServeOptions {
  /** Directory of bundle files (`<project>-v<N>.larder`). */
  bundles: string;
  host: string;
  port: number;
  /** Bound on the LRU tier's estimated heap bytes; 0 disables caching. */
  cacheMaxBytes: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Most entities one request may ask for. */
  maxEntities: number;
  /** How often the bundle directory is checked for a newer bundle, ms. */
  pollMs: number;
  /** How long shutdown waits for in-flight requests before cutting them, ms. */
  shutdownGraceMs: number;
  /** Answer a stale row's own value instead of the feature's default (Feast's behaviour). */
  serveStale: boolean;
  /** A standalone Redis (redis:// or rediss:// URL), or undefined. */
  redis: string | undefined;
  /** Redis Cluster seed nodes (host:port,...), or undefined. */
  redisCluster: string | undefined;
  /** First part of every Redis key. */
  redisNamespace: string;
  /** Deadline of one Redis read, ms. */
  redisTimeoutMs: number;
  /** How long rows read from Redis stay in the LRU, ms. */
  redisCacheTtlMs: number;
  /** Length bound of the change stream of pushed rows (entries). */
  redisStreamMaxLen: number;
  /** Bearer token that /push and other writes require; undefined: writes are off. */
  adminToken: string | undefined;
  /** The feature repo folder, where pushes to offline write their Parquet files; undefined: offline pushes are off. */
  repo: string | undefined;
}

/** A bad option value or flag; the command exits 2 with this message. */
export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

export interface OptionSpec<K extends keyof ServeOptions = keyof ServeOptions> {
  key: K;
  flag: string;
  env: string;
  /** Placeholder shown in help, e.g. `<dir>`. */
  valueName: string;
  /** The default as a user would write it; undefined = required. */
  defaultText: string | undefined;
  description: string;
  /** Turns the raw text into the value, or returns why it is bad. */
  parse(raw: string): ServeOptions[K] | { invalid: string };
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
const UNITS: Record<string, number> = { '': 1, b: 1, kib: KIB, mib: MIB, gib: GIB };

/** Bytes as digits with an optional binary unit: `1048576`, `512KiB`, `64MiB`. */
export function parseBytes(raw: string): number | undefined {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

function integer(min: number, max: number, what: string) {
  return (raw: string): number | { invalid: string } => {
    const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) return { invalid: `must be ${what}` };
    return n;
  };
}

function bytes(min: number, what: string) {
  return (raw: string): number | { invalid: string } => {
    const n = parseBytes(raw);
    if (n === undefined || n < min) return { invalid: `must be ${what}: a number of bytes, optionally with KiB, MiB or GiB (e.g. 64MiB)` };
    return n;
  };
}

/** An optional text: empty means not set. */
function optional(check?: (raw: string) => string | undefined) {
  return (raw: string): string | undefined | { invalid: string } => {
    if (raw.trim() === '') return undefined;
    const problem = check?.(raw.trim());
    return problem ? { invalid: problem } : raw.trim();
  };
}

function nonEmpty(what: string) {
  return (raw: string): string | { invalid: string } => (raw.trim() === '' ? { invalid: `must be ${what}` } : raw);
}

export const SERVE_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'bundles', flag: '--bundles', env: 'LARDER_BUNDLES', valueName: '<dir>', defaultText: undefined,
    description: 'Directory of bundle files (<project>-v<N>.larder). The newest valid bundle is served; newer ones are swapped in while serving.',
    parse: nonEmpty('a directory path'),
  },
  {
    key: 'host', flag: '--host', env: 'LARDER_HOST', valueName: '<host>', defaultText: '127.0.0.1',
    description: 'Address to bind. The default keeps the sidecar on localhost; use 0.0.0.0 to expose it.',
    parse: nonEmpty('a host name or IP address'),
  },
  {
    key: 'port', flag: '--port', env: 'LARDER_PORT', valueName: '<port>', defaultText: '6566',
    description: "TCP port (Feast's feature server port); 0 picks a free one.",
    parse: integer(0, 65535, 'an integer from 0 to 65535'),
  },
  {
    key: 'cacheMaxBytes', flag: '--cache-max-bytes', env: 'LARDER_CACHE_MAX_BYTES', valueName: '<bytes>', defaultText: '64MiB',
    description: 'Bound on the LRU tier in estimated heap bytes (0 disables it). It keeps rows fetched from Redis, not rows of the in-memory bundle, and is cleared whenever a new bundle is swapped in.',
    parse: bytes(0, 'at least 0'),
  },
  {
    key: 'maxBodyBytes', flag: '--max-body-bytes', env: 'LARDER_MAX_BODY_BYTES', valueName: '<bytes>', defaultText: '1MiB',
    description: 'Largest request body accepted; larger ones get 413, whether or not Content-Length says so.',
    parse: bytes(2, 'at least 2'),
  },
  {
    key: 'maxEntities', flag: '--max-entities', env: 'LARDER_MAX_ENTITIES', valueName: '<n>', defaultText: '10000',
    description: 'Most entities one request may ask for; more get 413.',
    parse: integer(1, 10_000_000, 'an integer from 1 to 10000000'),
  },
  {
    key: 'pollMs', flag: '--poll-ms', env: 'LARDER_POLL_MS', valueName: '<ms>', defaultText: '2000',
    description: 'How often the bundle directory is checked for a newer bundle, in milliseconds.',
    parse: integer(10, 86_400_000, 'an integer from 10 to 86400000'),
  },
  {
    key: 'shutdownGraceMs', flag: '--shutdown-grace-ms', env: 'LARDER_SHUTDOWN_GRACE_MS', valueName: '<ms>', defaultText: '10000',
    description: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish before their connections are cut, in milliseconds.',
    parse: integer(0, 3_600_000, 'an integer from 0 to 3600000'),
  },
  {
    key: 'serveStale', flag: '--serve-stale', env: 'LARDER_SERVE_STALE', valueName: '<true|false>', defaultText: 'false',
    description: "Answer a row older than its view's TTL with its own value, as Feast's servers do, instead of the feature's default as training sets read it. Its status is OUTSIDE_MAX_AGE either way.",
    parse: (raw) => (/^(true|1|yes)$/i.test(raw.trim()) ? true : /^(false|0|no)$/i.test(raw.trim()) ? false : { invalid: 'must be true or false' }),
  },
  {
    key: 'redis', flag: '--redis', env: 'LARDER_REDIS', valueName: '<url>', defaultText: '',
    description: 'Redis online store, redis://[:password@]host:port[/db] or rediss:// (TLS): keys missing from the LRU and the bundle are read from it, and pushed rows reach every sidecar through it. Unset: no Redis.',
    parse: optional(redisUrlProblem),
  },
  {
    key: 'redisCluster', flag: '--redis-cluster', env: 'LARDER_REDIS_CLUSTER', valueName: '<seeds>', defaultText: '',
    description: 'Redis Cluster seed nodes instead of --redis: host:port,host:port (or redis:// URLs carrying the password).',
    parse: optional((raw) => {
      const target = parseClusterSeeds(raw);
      return 'invalid' in target ? target.invalid : undefined;
    }),
  },
  {
    key: 'redisNamespace', flag: '--redis-namespace', env: 'LARDER_REDIS_NAMESPACE', valueName: '<ns>', defaultText: 'larder',
    description: 'First part of every Redis key, so several deployments can share one Redis (materialize and push take the same flag).',
    parse: (raw) => namespaceProblem(raw) ? { invalid: namespaceProblem(raw)! } : raw,
  },
  {
    key: 'redisTimeoutMs', flag: '--redis-timeout-ms', env: 'LARDER_REDIS_TIMEOUT_MS', valueName: '<ms>', defaultText: '25',
    description: 'Deadline of a Redis read: past it the keys are answered as holes (NOT_FOUND, the default value). Repeated failures open a circuit breaker that answers at once until a probe succeeds.',
    parse: integer(1, 60_000, 'an integer from 1 to 60000'),
  },
  {
    key: 'redisCacheTtlMs', flag: '--redis-cache-ttl-ms', env: 'LARDER_REDIS_CACHE_TTL_MS', valueName: '<ms>', defaultText: '30000',
    description: 'How long a row read from Redis is kept in the LRU, in milliseconds; a pushed row replaces it at once.',
    parse: integer(1, 86_400_000, 'an integer from 1 to 86400000'),
  },
  {
    key: 'redisStreamMaxLen', flag: '--redis-stream-max-len', env: 'LARDER_REDIS_STREAM_MAX_LEN', valueName: '<n>', defaultText: '100000',
    description: 'Pushed rows kept in the Redis change stream (and in each sidecar\'s memory). A sidecar whose bundle is older than the oldest of them reads the pushed views through Redis.',
    parse: integer(100, 100_000_000, 'an integer from 100 to 100000000'),
  },
  {
    key: 'adminToken', flag: '--admin-token', env: 'LARDER_ADMIN_TOKEN', valueName: '<token>', defaultText: '',
    description: 'Bearer token that POST /push requires (Authorization: Bearer <token>; 401 without it). Unset: writes are off (403).',
    parse: optional((raw) => (raw.length < 16 ? 'must be at least 16 characters' : undefined)),
  },
  {
    key: 'repo', flag: '--repo', env: 'LARDER_REPO', valueName: '<dir>', defaultText: '',
    description: 'The feature repo folder: pushes to "offline" write Parquet files beside its sources there. Unset: offline pushes are refused (403).',
    parse: optional(),
  },
];

const flagName = (spec: OptionSpec): string => spec.flag.slice(2);

export type ParsedServeArgs = { help: true } | { help: false; options: ServeOptions };

/**
 * Reads options from argv and the environment. Throws OptionError naming
 * the flag and the environment variable of a bad or missing value.
 */
export function parseServeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedServeArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(SERVE_OPTIONS.map((s) => [flagName(s), { type: 'string' as const }])),
      },
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values;
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
  if (values.help === true) return { help: true };

  const options: Partial<Record<keyof ServeOptions, unknown>> = {};
  for (const spec of SERVE_OPTIONS) {
    const fromFlag = values[flagName(spec)];
    const fromEnv = env[spec.env];
    const raw = typeof fromFlag === 'string' ? fromFlag : fromEnv !== undefined && fromEnv !== '' ? fromEnv : spec.defaultText;
    const where = typeof fromFlag === 'string' ? `${spec.flag}` : fromEnv !== undefined && fromEnv !== '' ? `${spec.env}` : 'default';
    if (raw === undefined) throw new OptionError(`${spec.flag} (or ${spec.env}) is required: ${spec.description}`);
    const value = spec.parse(raw);
    if (typeof value === 'object' && value !== null && 'invalid' in value) {
      throw new OptionError(`${spec.flag} (${spec.env}) ${value.invalid}, got ${JSON.stringify(raw)} from ${where}`);
    }
    options[spec.key] = value;
  }
  return { help: false, options: options as ServeOptions };
}

export function helpText(): string {
  const rows = SERVE_OPTIONS.map((s) => {
    const left = `  ${s.flag} ${s.valueName}`;
    const def = s.defaultText === undefined ? 'required' : s.defaultText === '' ? 'default none' : `default ${s.defaultText}`;
    return `${left}\n      ${s.description}\n      env ${s.env}; ${def}`;
  });
  return [
    'usage: larder serve --bundles <dir> [options]',
    '',
    "Serves bundles over Feast's HTTP API: POST /get-online-features, GET /health, /ready, /bundle, /metrics.",
    'Each option can also be set by its environment variable; a flag wins over the variable.',
    '',
    'options:',
    ...rows,
    '  -h, --help',
    '      print this help',
  ].join('\n');
}

/** Text safe inside a Markdown table cell (no HTML-looking tags, no column breaks). */
const markdownCell = (text: string): string => text.replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');

/** The options as a Markdown table, for the README. */
export function optionsMarkdownTable(): string {
  const lines = ['| Flag | Environment variable | Default | Description |', '| --- | --- | --- | --- |'];
  for (const s of SERVE_OPTIONS) {
    lines.push(`| \`${s.flag} ${s.valueName}\` | \`${s.env}\` | ${s.defaultText === undefined ? '(required)' : s.defaultText === '' ? '(none)' : `\`${s.defaultText}\``} | ${markdownCell(s.description)} |`);
  }
  return lines.join('\n');
}

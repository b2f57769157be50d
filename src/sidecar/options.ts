/**
 * The options of `larder serve`, once: the table below is what parses them,
 * prints `--help` and renders the README's table (the machinery is
 * src/cli/options.ts, shared by every command).
 */
import { type CommandSpec, type OptionSpec as CommandOptionSpec, type ParsedCommand, bytes, integer, nonEmpty, parseCommand, switchValue } from '../option-table.js';
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
  /** Most client connections open at once. */
  maxConnections: number;
  /** Largest bundle file opened, in bytes; larger files are refused before they are read. */
  maxBundleBytes: number;
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
  /** Bearer token that /push, /admin/rollback and other writes require; undefined: writes are off. */
  adminToken: string | undefined;
  /** The feature repo folder, where pushes to offline write their Parquet files; undefined: offline pushes are off. */
  repo: string | undefined;
  /** Public key files trusted to sign bundles; none = unsigned bundles are served. */
  publicKeys?: string[];
  /** Where accepted versions are kept (the high-water mark). */
  stateFile?: string;
  /** Counters per view of the hot-key sketch; 0 = off. */
  hotKeyCapacity?: number;
  /** Folder the sidecar writes each view's hot keys file to (none: only GET /hot-keys). */
  hotKeysOut?: string;
  /** How often those files are written, seconds. */
  hotKeysEverySeconds?: number;
  /** An origin (larder origin) to follow into --bundles. */
  bundleUrl?: string;
  // The served-value log and drift (src/sidecar/served-log/). Optional so
  // that code building options by hand may leave them out: a missing one
  // takes its default from SERVE_OPTIONS.
  /** Directory of the served-value log; null: no log. */
  logServed?: string | null;
  /** Fraction of entities (or requests) logged, 0..1. */
  logSample?: number;
  /** Sample whole entities by a hash of their key (all requests of a sampled entity), or requests at random. */
  logSampleBy?: 'key' | 'request';
  /** Most entity rows waiting to be logged; beyond it rows are dropped and counted. */
  logBufferRows?: number;
  /** Log files are closed at this size, bytes. */
  logRotateBytes?: number;
  /** Log files are closed at this age, seconds. */
  logRotateSeconds?: number;
  /** Fraction of requests whose values feed the drift window (all logged ones do too). */
  driftSample?: number;
  /** Length of the drift window, seconds. */
  driftWindowSeconds?: number;
}

/** One entry of the serve table. */
export type OptionSpec = CommandOptionSpec<ServeOptions>;

/** A text that `problem` accepts (it returns why not, or undefined). */
function checked(problem: (raw: string) => string | undefined = () => undefined) {
  return (raw: string): string | { invalid: string } => {
    const why = problem(raw.trim());
    return why ? { invalid: why } : raw.trim();
  };
}

function fraction(raw: string): number | { invalid: string } {
  const n = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
  return n >= 0 && n <= 1 ? n : { invalid: 'must be a fraction from 0 to 1 (e.g. 0.1)' };
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
    key: 'serveStale', flag: '--serve-stale', env: 'LARDER_SERVE_STALE', defaultText: 'false',
    description: "Answer a row older than its view's TTL with its own value, as Feast's servers do, instead of the feature's default as training sets read it. Its status is OUTSIDE_MAX_AGE either way.",
    parse: switchValue,
  },
  {
    key: 'maxConnections', flag: '--max-connections', env: 'LARDER_MAX_CONNECTIONS', valueName: '<n>', defaultText: '1024',
    description: 'Most client connections open at once; one more is answered 503 (LARDER_ERR_TOO_MANY_CONNECTIONS) and closed. Each holds a file descriptor; the default is ample for the keep-alive pools of the clients in a pod.',
    parse: integer(1, 1_000_000, 'an integer from 1 to 1000000'),
  },
  {
    key: 'maxBundleBytes', flag: '--max-bundle-bytes', env: 'LARDER_MAX_BUNDLE_BYTES', valueName: '<bytes>', defaultText: '1GiB',
    description: 'Largest bundle file opened. A larger file in the bundle directory is refused (and logged) before any of it is read, and the bundle being served stays; opening a bundle takes about its size in memory.',
    parse: bytes(1, 'at least 1'),
  },
  {
    key: 'redis', flag: '--redis', env: 'LARDER_REDIS', valueName: '<url>', defaultText: undefined, whenUnset: 'no Redis',
    description: 'Redis online store, redis://[:password@]host:port[/db] or rediss:// (TLS): keys missing from the LRU and the bundle are read from it, and pushed rows reach every sidecar through it. Unset: no Redis.',
    parse: checked(redisUrlProblem),
  },
  {
    key: 'redisCluster', flag: '--redis-cluster', env: 'LARDER_REDIS_CLUSTER', valueName: '<seeds>', defaultText: undefined, whenUnset: 'no Redis Cluster',
    description: 'Redis Cluster seed nodes instead of --redis: host:port,host:port (or redis:// URLs carrying the password).',
    parse: checked((raw) => {
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
    key: 'adminToken', flag: '--admin-token', env: 'LARDER_ADMIN_TOKEN', valueName: '<token>', defaultText: undefined, whenUnset: 'writes off',
    description: 'Bearer token that POST /push and POST /admin/rollback require (Authorization: Bearer <token>; 401 without it). Unset: writes are off (403). Prefer the variable, which stays out of the process list.',
    parse: checked((raw) => (raw.length < 16 ? 'must be at least 16 characters' : undefined)),
  },
  {
    key: 'repo', flag: '--repo', env: 'LARDER_REPO', valueName: '<dir>', defaultText: undefined, whenUnset: 'offline pushes off',
    description: 'The feature repo folder: pushes to "offline" write Parquet files beside its sources there. Unset: offline pushes are refused (403).',
    parse: checked((raw) => (raw === '' ? 'must be a folder path' : undefined)),
  },
  {
    key: 'publicKeys', flag: '--public-key', env: 'LARDER_PUBLIC_KEY', valueName: '<files>', defaultText: undefined, whenUnset: 'unsigned bundles are served',
    description: 'Public key files from larder keygen (*.public.jwk), comma-separated: several while keys rotate. Then only bundles signed by one of them are served, checked before they are decoded; unsigned, altered, expired or unknown-key bundles are refused and logged, and the current one keeps serving.',
    parse: (raw) => {
      const files = raw.split(',').map((f) => f.trim()).filter((f) => f !== '');
      return files.length > 0 ? files : { invalid: 'must be one or more key file paths, comma-separated' };
    },
  },
  {
    key: 'stateFile', flag: '--state-file', env: 'LARDER_STATE_FILE', valueName: '<file>', defaultText: undefined,
    whenUnset: '<bundles>/.larder-state.json with --public-key or --admin-token, else none',
    description: 'Where the sidecar keeps the highest bundle version it accepted (and a rollback), so that after a restart it refuses older versions too.',
    parse: nonEmpty('a file path'),
  },
  {
    key: 'hotKeyCapacity', flag: '--hot-key-capacity', env: 'LARDER_HOT_KEY_CAPACITY', valueName: '<n>', defaultText: '1000',
    description: 'Counters per view of the hot-key sketch behind GET /hot-keys (0 turns counting off). Keys asked for more than 1/n of a view\'s lookups are always among them.',
    parse: integer(0, 1_000_000, 'an integer from 0 to 1000000'),
  },
  {
    key: 'hotKeysOut', flag: '--hot-keys-out', env: 'LARDER_HOT_KEYS_OUT', valueName: '<dir>', defaultText: undefined, whenUnset: 'no files (GET /hot-keys only)',
    description: 'Folder where the sidecar writes each view\'s hot keys as <view>.hot-keys.csv (the file larder build --hot-keys reads), replaced atomically every --hot-keys-every seconds and on shutdown.',
    parse: nonEmpty('a folder path'),
  },
  {
    key: 'hotKeysEverySeconds', flag: '--hot-keys-every', env: 'LARDER_HOT_KEYS_EVERY', valueName: '<s>', defaultText: '60',
    description: 'Seconds between writes of the --hot-keys-out files.',
    parse: integer(1, 86_400, 'an integer from 1 to 86400'),
  },
  {
    key: 'bundleUrl', flag: '--bundle-url', env: 'LARDER_BUNDLE_URL', valueName: '<url>', defaultText: undefined, whenUnset: 'only --bundles is read',
    description: 'Base URL of a larder origin to follow: polled every --poll-ms (jittered) with If-None-Match; a newer bundle is downloaded into --bundles (size-limited by --max-bundle-bytes, hash-checked, fsynced, renamed) and swapped in like any file there. Without network the last good bundle there serves.',
    parse: (raw) => (/^https?:\/\/\S+$/i.test(raw.trim()) ? raw.trim() : { invalid: 'must be an http:// or https:// URL' }),
  },
  {
    key: 'logServed', flag: '--log-served', env: 'LARDER_LOG_SERVED', valueName: '<dir>', defaultText: 'none',
    description: 'Directory for the served-value log: one NDJSON line per request answered (request time, bundle version, join keys, and per entity and feature the value, status, tier and the row\'s event and created time), in files rotated by size and age, for larder shadow and DuckDB. none: no log.',
    parse: (raw) => (raw.trim() === '' || raw.trim() === 'none' ? null : raw),
  },
  {
    key: 'logSample', flag: '--log-sample', env: 'LARDER_LOG_SAMPLE', valueName: '<fraction>', defaultText: '1',
    description: 'Fraction of entities (or requests, see --log-sample-by) written to the served-value log.',
    parse: fraction,
  },
  {
    key: 'logSampleBy', flag: '--log-sample-by', env: 'LARDER_LOG_SAMPLE_BY', valueName: '<key|request>', defaultText: 'key',
    description: 'key: an entity is logged when the hash of its join key values falls in the sample, so every request for a sampled entity is kept; request: each request is logged or not at random.',
    parse: (raw) => (raw.trim() === 'key' || raw.trim() === 'request' ? (raw.trim() as 'key' | 'request') : { invalid: 'must be key or request' }),
  },
  {
    key: 'logBufferRows', flag: '--log-buffer-rows', env: 'LARDER_LOG_BUFFER_ROWS', valueName: '<n>', defaultText: '100000',
    description: 'Most entity rows held in memory waiting to be written to the served-value log. Logging never waits for the disk: past this bound rows are dropped and counted in /metrics (larder_served_log_rows_total{result="dropped"}).',
    parse: integer(1, 100_000_000, 'an integer from 1 to 100000000'),
  },
  {
    key: 'logRotateBytes', flag: '--log-rotate-bytes', env: 'LARDER_LOG_ROTATE_BYTES', valueName: '<bytes>', defaultText: '64MiB',
    description: 'A served-log file is closed (renamed from .ndjson.part to .ndjson) once it holds this many bytes.',
    parse: bytes(1, 'at least 1'),
  },
  {
    key: 'logRotateSeconds', flag: '--log-rotate-seconds', env: 'LARDER_LOG_ROTATE_SECONDS', valueName: '<s>', defaultText: '3600',
    description: 'A served-log file is closed once it has been open this long.',
    parse: integer(1, 31_536_000, 'an integer from 1 to 31536000'),
  },
  {
    key: 'driftSample', flag: '--drift-sample', env: 'LARDER_DRIFT_SAMPLE', valueName: '<fraction>', defaultText: '0.01',
    description: 'Fraction of requests whose served values are compared with the training distribution in the bundle manifest (drawn on its own, whether or not the request is logged); GET /drift and /metrics show the PSI per feature. 0 turns drift off.',
    parse: fraction,
  },
  {
    key: 'driftWindowSeconds', flag: '--drift-window-seconds', env: 'LARDER_DRIFT_WINDOW_SECONDS', valueName: '<s>', defaultText: '600',
    description: 'The drift window: PSI is computed over the values served in the last this many seconds.',
    parse: integer(1, 31_536_000, 'an integer from 1 to 31536000'),
  },
];

/** An option's value, or its default from SERVE_OPTIONS when the caller left it out. */
export function serveOption<K extends keyof ServeOptions>(options: ServeOptions, key: K): Exclude<ServeOptions[K], undefined> {
  const given = options[key];
  if (given !== undefined) return given as Exclude<ServeOptions[K], undefined>;
  const spec = SERVE_OPTIONS.find((s) => s.key === key)!;
  return spec.parse(spec.defaultText!) as Exclude<ServeOptions[K], undefined>;
}

export const SERVE_COMMAND: CommandSpec<ServeOptions> = {
  name: 'serve',
  about: "Serves bundles over Feast's HTTP API: POST /get-online-features and /push, GET /health, /ready, /bundle, /metrics, /drift, /hot-keys, POST /admin/rollback.",
  positionals: [],
  options: SERVE_OPTIONS,
};

/**
 * Reads options from argv and the environment. Throws LarderError
 * (LARDER_ERR_USAGE, LARDER_ERR_OPTION) naming the flag and the
 * environment variable of a bad or missing value.
 */
export function parseServeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand<ServeOptions> {
  return parseCommand(SERVE_COMMAND, argv, env);
}

/**
 * The options of `larder serve`, once. Every option has a flag, an
 * environment variable, a default and a description; `--help` and the
 * README's table are both rendered from this list. Precedence: flag, then
 * environment variable, then default.
 */
import { parseArgs } from 'node:util';

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

function fraction(raw: string): number | { invalid: string } {
  const n = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
  return n >= 0 && n <= 1 ? n : { invalid: 'must be a fraction from 0 to 1 (e.g. 0.1)' };
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
    key: 'logServed', flag: '--log-served', env: 'LARDER_LOG_SERVED', valueName: '<dir>', defaultText: 'none',
    description: 'Directory for the served-value log: one NDJSON line per entity answered (request time, join keys, and per feature the value, status, tier, bundle version and the row\'s event and created time), in files rotated by size and age, for larder shadow. none: no log.',
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
    description: 'Most entity rows held waiting to be logged. Logging never holds up a request: past this bound rows are dropped and counted in /metrics (larder_served_log_rows_total{result="dropped"}).',
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
    description: 'Fraction of requests whose served values are compared with the training distribution in the bundle manifest (every logged request counts too); GET /drift and /metrics show the PSI per feature. 0 turns drift off.',
    parse: fraction,
  },
  {
    key: 'driftWindowSeconds', flag: '--drift-window-seconds', env: 'LARDER_DRIFT_WINDOW_SECONDS', valueName: '<s>', defaultText: '600',
    description: 'The drift window: PSI is computed over the values served in the last this many seconds.',
    parse: integer(1, 31_536_000, 'an integer from 1 to 31536000'),
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
    const def = s.defaultText === undefined ? 'required' : `default ${s.defaultText}`;
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
    lines.push(`| \`${s.flag} ${s.valueName}\` | \`${s.env}\` | ${s.defaultText === undefined ? '(required)' : `\`${s.defaultText}\``} | ${markdownCell(s.description)} |`);
  }
  return lines.join('\n');
}

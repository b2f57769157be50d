/** `larder serve` options: flag over environment over default, and errors naming both. */
import { describe, expect, it } from 'vitest';
import { helpText, optionsMarkdownTable, parseBytes } from '../../src/option-table.js';
import { LarderError } from '../../src/core/errors.js';
import { SERVE_COMMAND, SERVE_OPTIONS, parseServeArgs } from '../../src/sidecar/options.js';

/** The LarderError code `f` throws. */
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof LarderError ? e.code : `not a LarderError: ${String(e)}`;
  }
  return undefined;
};

const parse = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseServeArgs(argv, env);
  if (r.help) throw new Error('unexpected --help');
  return r.options;
};

/** The served-value log's and drift's defaults (served-log options). */
const SERVED_LOG_DEFAULTS = {
  logServed: null, logSample: 1, logSampleBy: 'key', logBufferRows: 100_000, logRotateBytes: 64 * 1024 * 1024, logRotateSeconds: 3600,
  driftSample: 0.01, driftWindowSeconds: 600,
};

describe('parseServeArgs', () => {
  it('defaults', () => {
    expect(parse(['--bundles', 'b'])).toEqual({
      bundles: 'b', host: '127.0.0.1', port: 6566, cacheMaxBytes: 64 * 1024 * 1024, maxBodyBytes: 1024 * 1024,
      maxEntities: 10_000, pollMs: 2000, shutdownGraceMs: 10_000, serveStale: false, maxConnections: 1024, maxBundleBytes: 1024 ** 3, hotKeyCapacity: 1000, hotKeysEverySeconds: 60,
      redis: undefined, redisCluster: undefined, redisNamespace: 'larder', redisTimeoutMs: 25, redisCacheTtlMs: 30_000, redisStreamMaxLen: 100_000, adminToken: undefined, repo: undefined,
      ...SERVED_LOG_DEFAULTS,
    });
  });

  it('environment variables fill what flags leave out; flags win', () => {
    const env = { LARDER_BUNDLES: '/env', LARDER_PORT: '7000', LARDER_HOST: '0.0.0.0', LARDER_CACHE_MAX_BYTES: '1MiB', LARDER_MAX_BODY_BYTES: '2048', LARDER_MAX_ENTITIES: '50', LARDER_POLL_MS: '100', LARDER_SHUTDOWN_GRACE_MS: '0', LARDER_SERVE_STALE: 'true', LARDER_MAX_CONNECTIONS: '8' };
    expect(parse([], env)).toEqual({ bundles: '/env', host: '0.0.0.0', port: 7000, cacheMaxBytes: 1024 * 1024, maxBodyBytes: 2048, maxEntities: 50, pollMs: 100, shutdownGraceMs: 0, serveStale: true, maxConnections: 8, maxBundleBytes: 1024 ** 3, hotKeyCapacity: 1000, hotKeysEverySeconds: 60, redis: undefined, redisCluster: undefined, redisNamespace: 'larder', redisTimeoutMs: 25, redisCacheTtlMs: 30_000, redisStreamMaxLen: 100_000, adminToken: undefined, repo: undefined, ...SERVED_LOG_DEFAULTS });
    const redisEnv = { LARDER_REDIS: 'rediss://:pw@cache:6380/2', LARDER_REDIS_NAMESPACE: 'staging', LARDER_REDIS_TIMEOUT_MS: '10', LARDER_REDIS_CACHE_TTL_MS: '500', LARDER_REDIS_STREAM_MAX_LEN: '1000', LARDER_ADMIN_TOKEN: 'a-long-admin-token-1', LARDER_REPO: '/repo' };
    expect(parse(['--bundles', 'b'], redisEnv)).toMatchObject({ redis: 'rediss://:pw@cache:6380/2', redisNamespace: 'staging', redisTimeoutMs: 10, redisCacheTtlMs: 500, redisStreamMaxLen: 1000, adminToken: 'a-long-admin-token-1', repo: '/repo' });
    expect(parse(['--bundles', 'b', '--redis-cluster', '10.0.0.1:7000,10.0.0.2:7000'])).toMatchObject({ redisCluster: '10.0.0.1:7000,10.0.0.2:7000' });
    expect(parse(['--port', '7001', '--bundles=/flag', '--max-entities', '3'], env)).toMatchObject({ bundles: '/flag', port: 7001, maxEntities: 3, host: '0.0.0.0' });
  });

  it('--max-bundle-bytes takes binary units', () => {
    expect(parse(['--bundles', 'b', '--max-bundle-bytes', '512MiB']).maxBundleBytes).toBe(512 * 1024 * 1024);
  });

  it('an empty environment variable counts as unset', () => {
    expect(parse(['--bundles', 'b'], { LARDER_PORT: '' }).port).toBe(6566);
  });

  it('--bundles is required, named with its variable', () => {
    expect(codeOf(() => parse([]))).toBe('LARDER_ERR_OPTION');
    expect(() => parse([])).toThrow(/--bundles \(or LARDER_BUNDLES\) is required/);
  });

  const bad: [string[], Record<string, string>, RegExp][] = [
    [['--port', 'abc'], {}, /--port \(LARDER_PORT\) must be an integer from 0 to 65535, got "abc" from --port/],
    [['--port', '70000'], {}, /--port \(LARDER_PORT\) must be an integer from 0 to 65535/],
    [['--port=-1'], {}, /--port \(LARDER_PORT\) must be an integer from 0 to 65535, got "-1" from --port/],
    [[], { LARDER_PORT: '1.5' }, /--port \(LARDER_PORT\) must be an integer from 0 to 65535, got "1.5" from LARDER_PORT/],
    [['--cache-max-bytes', '64MB'], {}, /--cache-max-bytes \(LARDER_CACHE_MAX_BYTES\) must be at least 0: a number of bytes, optionally with KiB, MiB or GiB/],
    [['--max-body-bytes', '1'], {}, /--max-body-bytes \(LARDER_MAX_BODY_BYTES\) must be at least 2/],
    [['--max-entities', '0'], {}, /--max-entities \(LARDER_MAX_ENTITIES\) must be an integer from 1/],
    [[], { LARDER_POLL_MS: 'often' }, /--poll-ms \(LARDER_POLL_MS\) .* got "often" from LARDER_POLL_MS/],
    [['--host', ' '], {}, /--host \(LARDER_HOST\) must be a host name or IP address/],
    [['--shutdown-grace-ms', 'x'], {}, /--shutdown-grace-ms \(LARDER_SHUTDOWN_GRACE_MS\)/],
    [[], { LARDER_MAX_BUNDLE_BYTES: '2GB' }, /--max-bundle-bytes \(LARDER_MAX_BUNDLE_BYTES\) must be at least 1: a number of bytes/],
    [['--redis', 'http://cache:6379'], {}, /--redis \(LARDER_REDIS\) must start with redis:\/\/ or rediss:\/\//],
    [['--redis', 'redis://cache:6379/x'], {}, /--redis \(LARDER_REDIS\) database "x" must be a number/],
    [['--redis-cluster', 'cache'], {}, /--redis-cluster \(LARDER_REDIS_CLUSTER\) seed "cache" is not host:port/],
    [['--redis-namespace', 'a{b}'], {}, /--redis-namespace \(LARDER_REDIS_NAMESPACE\) must not contain braces/],
    [['--redis-timeout-ms', '0'], {}, /--redis-timeout-ms \(LARDER_REDIS_TIMEOUT_MS\) must be an integer from 1/],
    [[], { LARDER_ADMIN_TOKEN: 'short' }, /--admin-token \(LARDER_ADMIN_TOKEN\) must be at least 16 characters/],
  ];
  for (const [argv, env, message] of bad) {
    it(`refuses ${[...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`, () => {
      expect(() => parse(['--bundles', 'b', ...argv], env)).toThrow(message);
      expect(codeOf(() => parse(['--bundles', 'b', ...argv], env))).toBe('LARDER_ERR_OPTION');
    });
  }

  it('unknown flags, flags without a value and positionals are usage errors', () => {
    expect(codeOf(() => parse(['--bundles', 'b', '--prot', '1']))).toBe('LARDER_ERR_USAGE');
    expect(() => parse(['--bundles', 'b', '--prot', '1'])).toThrow(/--prot/);
    expect(codeOf(() => parse(['--bundles', 'b', '--port']))).toBe('LARDER_ERR_USAGE');
    expect(() => parse(['--bundles', 'b', '--port'])).toThrow(/--port/);
    expect(codeOf(() => parse(['--bundles', 'b', 'extra']))).toBe('LARDER_ERR_USAGE');
    // A value that looks like a flag must be joined with "=".
    expect(codeOf(() => parse(['--bundles', 'b', '--port', '-1']))).toBe('LARDER_ERR_USAGE');
    expect(() => parse(['--bundles', 'b', '--port', '-1'])).toThrow(/--port/);
  });

  it('--help', () => {
    expect(parseServeArgs(['--help'], {})).toEqual({ help: true });
    expect(parseServeArgs(['-h'], {})).toEqual({ help: true });
  });
});

describe('parseBytes', () => {
  it('reads digits and binary units', () => {
    expect(parseBytes('1048576')).toBe(1048576);
    expect(parseBytes('512KiB')).toBe(512 * 1024);
    expect(parseBytes('64mib')).toBe(64 * 1024 * 1024);
    expect(parseBytes('2 GiB')).toBe(2 * 1024 ** 3);
    expect(parseBytes('1.5MiB')).toBeUndefined();
    expect(parseBytes('10MB')).toBeUndefined();
    expect(parseBytes('')).toBeUndefined();
  });
});

describe('help and README table come from the same list', () => {
  it('every option appears with its flag, variable and default', () => {
    const help = helpText(SERVE_COMMAND);
    const table = optionsMarkdownTable(SERVE_COMMAND);
    for (const o of SERVE_OPTIONS) {
      expect(help).toContain(o.flag);
      expect(help).toContain(o.env);
      expect(table).toContain(`\`${o.env}\``);
      if (o.defaultText === '') {
        // No default: the option is off unless given.
        expect(help).toContain(`env ${o.env}; default none`);
        expect(table).toContain(`| \`${o.env}\` | (none) |`);
      } else if (o.defaultText !== undefined) {
        expect(help).toContain(`default ${o.defaultText}`);
        expect(table).toContain(`\`${o.defaultText}\``);
      }
    }
    expect(table.split('\n')).toHaveLength(SERVE_OPTIONS.length + 2);
  });
});

describe('served-log and drift options', () => {
  it('parse from flags and the environment', () => {
    expect(parse(['--bundles', 'b', '--log-served', '/var/log/larder', '--log-sample', '0.25', '--log-sample-by', 'request', '--log-rotate-bytes', '1MiB'], { LARDER_DRIFT_SAMPLE: '1', LARDER_DRIFT_WINDOW_SECONDS: '60' }))
      .toMatchObject({ logServed: '/var/log/larder', logSample: 0.25, logSampleBy: 'request', logRotateBytes: 1024 * 1024, driftSample: 1, driftWindowSeconds: 60 });
    expect(parse(['--bundles', 'b', '--log-served', 'none']).logServed).toBeNull();
  });

  it('refuse bad values, naming the flag', () => {
    expect(() => parse(['--bundles', 'b', '--log-sample', '1.5'])).toThrow(/--log-sample \(LARDER_LOG_SAMPLE\) must be a fraction from 0 to 1/);
    expect(() => parse(['--bundles', 'b', '--log-sample-by', 'user'])).toThrow(/--log-sample-by \(LARDER_LOG_SAMPLE_BY\) must be key or request/);
    expect(() => parse(['--bundles', 'b', '--drift-sample=-0.1'])).toThrow(/--drift-sample \(LARDER_DRIFT_SAMPLE\) must be a fraction/);
    expect(() => parse(['--bundles', 'b', '--log-buffer-rows', '0'])).toThrow(/--log-buffer-rows \(LARDER_LOG_BUFFER_ROWS\) must be an integer from 1/);
  });
});

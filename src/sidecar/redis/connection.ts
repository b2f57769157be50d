/**
 * Where Redis is and how larder talks to it: a `redis://` or `rediss://`
 * URL (standalone) or Redis Cluster seed nodes, and ioredis clients set up
 * so that a dead, black-holed or slow Redis can never stall a caller:
 * no offline queue (a command while disconnected fails at once instead of
 * waiting), a command timeout, few retries per command, and reconnection
 * with a short capped backoff (so reads resume soon after Redis returns).
 */
import { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; password?: string; username?: string; tls: boolean };

/** Checks a `redis://` / `rediss://` URL; returns why it is bad, or undefined. */
export function redisUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL such as redis://127.0.0.1:6379 or rediss://:password@host:6380/0';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `must start with redis:// or rediss://, not ${url.protocol}//`;
  if (!url.hostname) return 'names no host';
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) return `database "${db}" must be a number`;
  return undefined;
}

/**
 * Parses cluster seeds: `host:port,host:port`, each optionally a
 * redis:// or rediss:// URL (whose user and password, the same for every
 * node, authenticate the cluster).
 */
export function parseClusterSeeds(raw: string): RedisTarget | { invalid: string } {
  const parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) return { invalid: 'must list at least one seed node as host:port' };
  const nodes: { host: string; port: number }[] = [];
  let password: string | undefined;
  let username: string | undefined;
  let tls = false;
  for (const part of parts) {
    const withScheme = /^rediss?:\/\//.test(part) ? part : `redis://${part}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      return { invalid: `seed ${JSON.stringify(part)} is not host:port` };
    }
    const port = Number(url.port);
    if (!url.hostname || !url.port || !Number.isInteger(port) || port < 1 || port > 65535) return { invalid: `seed ${JSON.stringify(part)} is not host:port` };
    if (url.protocol === 'rediss:') tls = true;
    if (url.password) password = decodeURIComponent(url.password);
    if (url.username) username = decodeURIComponent(url.username);
    nodes.push({ host: url.hostname.replace(/^\[|\]$/g, ''), port });
  }
  return { kind: 'cluster', nodes, tls, ...(password !== undefined ? { password } : {}), ...(username !== undefined ? { username } : {}) };
}

/** The target for logs and summaries, password hidden. */
export function describeTarget(target: RedisTarget): string {
  if (target.kind === 'cluster') return `Redis Cluster (seeds ${target.nodes.map((n) => `${n.host}:${n.port}`).join(', ')})`;
  try {
    const url = new URL(target.url);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'redis';
  }
}

export interface ConnectOptions {
  /** A command not answered within this is failed by the client, ms. */
  commandTimeoutMs: number;
  /** Giving up on one connection attempt, ms. */
  connectTimeoutMs?: number;
  /** Longest wait between reconnection attempts, ms. */
  maxReconnectDelayMs?: number;
  /** Shown in CLIENT LIST. */
  name: string;
  /** Told of connection errors (the client reconnects by itself). */
  onError?: (e: Error) => void;
  /** For a blocking reader (XREAD BLOCK): no command timeout of its own, it gives its own. */
  blocking?: boolean;
  /**
   * Let ioredis gather the commands of one tick into one write (standalone
   * only). Off by default: it defers every command to the next turn of the
   * event loop, which measured slower for reads that are already batched.
   */
  autoPipelining?: boolean;
}

/** An ioredis client for `target`, connecting in the background (never throws for a dead Redis). */
export function connectRedis(target: RedisTarget, opts: ConnectOptions): RedisClient {
  const maxDelay = opts.maxReconnectDelayMs ?? 500;
  const retryStrategy = (times: number) => Math.min(25 * 2 ** Math.min(times, 10), maxDelay);
  const common = {
    enableOfflineQueue: false,
    ...(opts.blocking ? {} : { commandTimeout: opts.commandTimeoutMs }),
    connectTimeout: opts.connectTimeoutMs ?? 1000,
    maxRetriesPerRequest: 1,
    connectionName: opts.name,
    // CLIENT SETINFO is one more round trip at each connection, for no use here.
    disableClientInfo: true,
  };
  let client: RedisClient;
  if (target.kind === 'standalone') {
    client = new Redis(target.url, { ...common, retryStrategy, enableAutoPipelining: opts.autoPipelining ?? false });
  } else {
    client = new Cluster(target.nodes, {
      enableOfflineQueue: false,
      // Off for clusters: ioredis refuses an automatic pipeline whose
      // commands' slots it groups differently from their nodes. Commands of
      // one request still go out together, each to its node.
      enableAutoPipelining: false,
      clusterRetryStrategy: retryStrategy,
      // A failover moves slots: ask again soon, a few times, then give up on the command.
      retryDelayOnFailover: 50,
      retryDelayOnClusterDown: 50,
      maxRedirections: 4,
      slotsRefreshTimeout: 1000,
      redisOptions: {
        // Not enableOfflineQueue: the cluster opens each node's connection on
        // its first command, which must wait in that node's queue (its own
        // default; commandTimeout and the callers' deadlines bound the wait)
        // rather than fail the first reads of every master. The cluster
        // itself keeps no queue (above).
        commandTimeout: common.commandTimeout,
        connectTimeout: common.connectTimeout,
        maxRetriesPerRequest: common.maxRetriesPerRequest,
        connectionName: common.connectionName,
        disableClientInfo: common.disableClientInfo,
        ...(target.password !== undefined ? { password: target.password } : {}),
        ...(target.username !== undefined ? { username: target.username } : {}),
        ...(target.tls ? { tls: {} } : {}),
      },
    });
  }
  // Without a listener ioredis prints every connection error itself.
  client.on('error', (e: Error) => opts.onError?.(e));
  return client;
}

/** Whether the client can take commands now (connected and ready). */
export function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** Closes a client without waiting on a dead server. */
export function closeRedis(client: RedisClient): void {
  client.disconnect(false);
}

/**
 * Resolves once the client is ready, rejects after `timeoutMs` naming the
 * target (for commands that must reach Redis: materialize, push, tools).
 */
export function waitReady(client: RedisClient, target: RedisTarget, timeoutMs: number): Promise<void> {
  if (isReady(client)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (e: Error) => (lastError = e);
    const done = (e?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (e) reject(e);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(() => {
      done(new Error(`cannot reach ${describeTarget(target)} within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`));
    }, timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/**
 * The target named by `--redis <url>` or `--redis-cluster <seeds>` (at most
 * one of them); undefined when neither is given.
 */
export function redisTargetOf(url: string | undefined, clusterSeeds: string | undefined): RedisTarget | undefined | { invalid: string } {
  if (url !== undefined && clusterSeeds !== undefined) return { invalid: 'give --redis or --redis-cluster, not both' };
  if (url !== undefined) {
    const problem = redisUrlProblem(url);
    return problem ? { invalid: `--redis ${problem}` } : { kind: 'standalone', url };
  }
  if (clusterSeeds !== undefined) {
    const target = parseClusterSeeds(clusterSeeds);
    return 'invalid' in target ? { invalid: `--redis-cluster ${target.invalid}` } : target;
  }
  return undefined;
}

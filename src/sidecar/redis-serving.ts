/**
 * The sidecar's Redis parts, wired once from the serve options: the
 * read-through tier after the bundle, the pushed rows over it (fed by the
 * change stream), the set of views the bundle must not settle, the target
 * /push writes to, and their /metrics. serve.ts only places them.
 *
 * Three connections: reads (MGET, deadline-bound), the stream tail (a
 * blocked XREAD must not hold up the reads' replies) and writes (pushes:
 * bigger, with a longer timeout, opened on the first push). None is
 * needed at start-up: a dead Redis leaves the sidecar serving its bundle.
 */
import type { Tier } from '../core/resolve/tier.js';
import { BurstLog, type Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { LarderError } from '../core/errors.js';
import type { ServeOptions } from './options.js';
import type { OnlineTarget } from './push/online.js';
import type { PushDeps } from './push/route.js';
import { type RedisClient, closeRedis, connectRedis, describeTarget, isReady, redisTargetOf, waitReady } from './redis/connection.js';
import type { ServingStateHolder } from './serving-state.js';
import { StreamConsumer } from './stream/consumer.js';
import { PushedRows } from './stream/overlay.js';
import { RedisTier } from './tiers/redis.js';

export interface RedisServing {
  /** How long rows read from Redis stay in the LRU, ms. */
  readonly lruTtlMs: number;
  readonly tiersBeforeBundle: readonly Tier[];
  readonly tiersAfterBundle: readonly Tier[];
  readonly bundleUnsettled: { has(view: string): boolean };
  readonly online: () => OnlineTarget | undefined;
  /** Rows accepted by /push, by destination (rendered in /metrics). */
  readonly pushCounts: PushDeps['counts'];
  /** Starts tailing the change stream into the holder's state. */
  start(holder: ServingStateHolder): void;
  close(): Promise<void>;
}

const BREAKER_STATES = { closed: 0, open: 1, 'half-open': 2 } as const;

/** The Redis parts for `options`, or undefined when no Redis is configured. */
export function redisServing(options: ServeOptions, deps: { log: Logger; metrics: Metrics }): RedisServing | undefined {
  const target = redisTargetOf(options.redis, options.redisCluster);
  if (target === undefined) return undefined;
  if ('invalid' in target) throw new LarderError('LARDER_ERR_OPTION', target.invalid);
  const burst = new BurstLog(deps.log);
  const where = describeTarget(target);
  const onError = (connection: string) => (e: Error) => burst.warn(`redis ${connection}`, `redis (${connection}) ${where}: ${e.message}; reconnecting`);
  const reads = connectRedis(target, { commandTimeoutMs: Math.max(options.redisTimeoutMs * 4, 200), name: 'larder-sidecar-reads', onError: onError('reads') });
  const streamClient = connectRedis(target, { commandTimeoutMs: 5000, name: 'larder-sidecar-stream', onError: onError('stream') });
  let writes: RedisClient | undefined;
  let holder: ServingStateHolder | undefined;

  let consumer: StreamConsumer | undefined;
  const overlay = new PushedRows(options.redisStreamMaxLen, (view, at) => consumer?.lost(view, at));
  const tier = new RedisTier({
    client: reads,
    namespace: options.redisNamespace,
    project: () => holder?.current?.manifest.project,
    timeoutMs: options.redisTimeoutMs,
    newer: (view, key) => overlay.get(view, key),
    onFailure: (kind, keys, error) => {
      deps.metrics.countTierError('redis');
      const why = kind === 'breaker_open' ? 'the circuit breaker is open' : error instanceof Error ? error.message : kind;
      burst.warn(`redis ${kind}`, `redis: ${keys} key lookup(s) answered as misses: ${why}`);
    },
    onBreaker: (state) => (state === 'open' ? deps.log.warn(`redis: circuit breaker open; lookups are misses until a probe succeeds`) : state === 'closed' ? deps.log.info('redis: circuit breaker closed; reading through again') : undefined),
  });
  const pushCounts: PushDeps['counts'] = { online: 0, offline: 0 };

  deps.metrics.addCollector((out) => {
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    family('larder_redis_connected', 'gauge', '1 while the connection is ready, by use (reads, stream).');
    out.push(`larder_redis_connected{connection="reads"} ${isReady(reads) ? 1 : 0}`, `larder_redis_connected{connection="stream"} ${isReady(streamClient) ? 1 : 0}`);
    family('larder_redis_lookups_total', 'counter', 'Keys looked up in Redis, by outcome (error, timeout and breaker_open were answered as misses).');
    for (const [result, n] of Object.entries(tier.counts)) out.push(`larder_redis_lookups_total{result="${result}"} ${n}`);
    family('larder_redis_fetches_total', 'counter', 'MGET batches sent to Redis.');
    out.push(`larder_redis_fetches_total ${tier.fetches}`);
    family('larder_redis_breaker_state', 'gauge', 'Circuit breaker: 0 closed, 1 open, 2 half-open (one probe).');
    out.push(`larder_redis_breaker_state ${BREAKER_STATES[tier.breaker.state]}`);
    family('larder_redis_breaker_opened_total', 'counter', 'Times the circuit breaker opened.');
    out.push(`larder_redis_breaker_opened_total ${tier.breaker.opened}`);
    if (consumer) {
      family('larder_stream_rows_total', 'counter', 'Pushed rows read from the change stream: applied, stale (a newer push was held), skipped (unknown view or another definition of it).');
      out.push(`larder_stream_rows_total{result="applied"} ${consumer.counts.applied}`, `larder_stream_rows_total{result="stale"} ${consumer.counts.stale}`, `larder_stream_rows_total{result="skipped"} ${consumer.counts.skipped}`);
      family('larder_stream_pushed_keys', 'gauge', 'Keys whose pushed row this sidecar holds over its bundle.');
      out.push(`larder_stream_pushed_keys ${overlay.size}`);
      family('larder_stream_gaps_total', 'counter', 'Times the stream was found trimmed past pushes this sidecar had not read.');
      out.push(`larder_stream_gaps_total ${consumer.counts.gaps}`);
      family('larder_stream_view_read_through_redis', 'gauge', "1 for a view read through Redis for every key, since pushes newer than the bundle's as_of were lost from the stream.");
      for (const view of consumer.unsettled) out.push(`larder_stream_view_read_through_redis{view="${view.replace(/["\\\n]/g, '_')}"} 1`);
    }
    family('larder_push_rows_total', 'counter', 'Rows accepted by POST /push, by destination.');
    out.push(`larder_push_rows_total{to="online"} ${pushCounts.online}`, `larder_push_rows_total{to="offline"} ${pushCounts.offline}`);
  });

  return {
    lruTtlMs: options.redisCacheTtlMs,
    tiersBeforeBundle: [overlay],
    tiersAfterBundle: [tier],
    bundleUnsettled: { has: (view) => consumer?.unsettled.has(view) ?? false },
    pushCounts,
    online: () => {
      const project = holder?.current?.manifest.project;
      if (project === undefined) return undefined;
      const client = (writes ??= connectRedis(target, { commandTimeoutMs: 5000, name: 'larder-sidecar-writes', onError: onError('writes') }));
      return { client, namespace: options.redisNamespace, project, streamMaxLen: options.redisStreamMaxLen, ready: () => waitReady(client, target, 2000) };
    },
    start(h) {
      holder = h;
      consumer = new StreamConsumer({ client: streamClient, namespace: options.redisNamespace, holder: h, overlay, lru: h.lru, log: deps.log });
      consumer.start();
    },
    async close() {
      await consumer?.stop();
      closeRedis(reads);
      closeRedis(streamClient);
      if (writes) closeRedis(writes);
    },
  };
}

/** The push route's dependencies for `options`. */
export function pushDeps(options: ServeOptions, redis: RedisServing | undefined): PushDeps {
  return { adminToken: options.adminToken, online: redis?.online, repoDir: options.repo, counts: redis?.pushCounts ?? { online: 0, offline: 0 } };
}

/**
 * Redis fixtures for sidecar tests: rows of the shop repo written to a real
 * Redis through the same key layout and row encoder as materialize, a
 * bundle that holds only some keys, and requests with their timing.
 */
import { RowValueCodec } from '../../src/core/bundle/row-value.js';
import { entityKeyString } from '../../src/core/keys.js';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { closeRedis, connectRedis, type RedisTarget, waitReady } from '../../src/sidecar/redis/connection.js';
import { ViewKeys } from '../../src/sidecar/redis/keys.js';
import { writeRows } from '../../src/sidecar/redis/rows.js';
import { type ServeOptions, parseServeArgs } from '../../src/sidecar/options.js';
import { T0, shopRepo } from './helpers.js';

export const userStats = (): FeatureViewDef => shopRepo().featureViews.find((v) => v.name === 'user_stats')!;

/** A user_stats row whose clicks are `clicks` (its other values follow from it). */
export function userRow(clicks: number): unknown[] {
  return [clicks, clicks / 1000, `c${clicks}`, T0 - 1000, [clicks, 0.5], ['t'], clicks % 2 === 0];
}

/** Writes user_stats rows for `ids` (clicks = id) to Redis, as materialize would. */
export async function seedUserStats(target: RedisTarget, ids: number[], opts: { namespace?: string; eventTsMs?: number; clicks?: (id: number) => number } = {}): Promise<void> {
  const client = connectRedis(target, { commandTimeoutMs: 5000, name: 'test-seed' });
  try {
    await waitReady(client, target, 10_000);
    const view = userStats();
    const codec = new RowValueCodec(view.features);
    const keys = ids.map((id) => entityKeyString([id]));
    const rows = ids.map((id) => userRow(opts.clicks?.(id) ?? id));
    const values = codec.encodePacked(keys, ids.map(() => opts.eventTsMs ?? T0), undefined, view.features.map((_, f) => rows.map((r) => r[f])));
    await writeRows(client, new ViewKeys(opts.namespace ?? 'larder', 'shop', view.name, codec.fingerprint), keys, values);
  } finally {
    closeRedis(client);
  }
}

/** The clicks of each user, and their statuses, as one request answers them. */
export async function clicksOf(post: (body: unknown) => Promise<Response>, ids: number[]): Promise<{ status: number; clicks: unknown[]; statuses: string[]; ms: number; servedBy: string | null }> {
  const started = performance.now();
  const res = await post({ features: ['user_stats:clicks'], entities: { user_id: ids } });
  const ms = performance.now() - started;
  if (res.status !== 200) return { status: res.status, clicks: [], statuses: [], ms, servedBy: null };
  const body = (await res.json()) as { results: { values: unknown[]; statuses: string[] }[] };
  return { status: res.status, clicks: body.results[1]!.values, statuses: body.results[1]!.statuses, ms, servedBy: res.headers.get('x-larder-served-by') };
}

/** A metric's value from /metrics text (first series matching `name{labels}`), or undefined. */
export function metric(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** The Redis serve options at their defaults (as `larder serve` parses them), with `url` and overrides. */
export function redisOptions(url: string, overrides: Partial<ServeOptions> = {}): Partial<ServeOptions> {
  const parsed = parseServeArgs(['--bundles', 'unused', '--redis', url], {});
  if (parsed.help) throw new Error('unreachable');
  const { redis, redisCluster, redisNamespace, redisTimeoutMs, redisCacheTtlMs, redisStreamMaxLen, adminToken, repo } = parsed.options;
  return { redis, redisCluster, redisNamespace, redisTimeoutMs, redisCacheTtlMs, redisStreamMaxLen, adminToken, repo, ...overrides };
}

/**
 * getOnlineFeatures, once: plan the request and resolve each view through
 * the tiers. The in-process API builds Feast's response from that; the
 * sidecar writes it as JSON without building it (both through
 * AnswerColumns). Synchronous unless a tier is remote.
 */
import { type OnlineFeaturesResponse, type RequestPlan, buildResponse, planRequest } from './feast.js';
import type { ServingCatalog } from './resolve/catalog.js';
import type { Resolver, ViewResult } from './resolve/resolver.js';
import type { TierName } from './resolve/tier.js';

export interface ResolvedRequest {
  /** The request as planned: which views, keys and output columns. */
  plan: RequestPlan;
  /** Per view name, its rows and the tier that served each. */
  results: ReadonlyMap<string, ViewResult>;
  /** Entity lookups (entity x view) answered by each tier. */
  servedBy: Record<TierName, number>;
}

export interface OnlineOptions {
  /** The time statuses are judged at, epoch ms. */
  nowMs: number;
  maxEntities?: number;
}

export function resolveRequest(catalog: ServingCatalog, resolver: Resolver, body: unknown, maxEntities?: number): ResolvedRequest | Promise<ResolvedRequest> {
  const plan = planRequest(catalog, body, maxEntities);
  const results = new Map<string, ViewResult>();
  const pending: Promise<void>[] = [];
  for (const { view, keys } of plan.views) {
    const r = resolver.resolve(view, keys);
    if (r instanceof Promise) pending.push(r.then((v) => void results.set(view.name, v)));
    else results.set(view.name, r);
  }
  const finish = (): ResolvedRequest => {
    const servedBy: Record<TierName, number> = { lru: 0, bundle: 0, redis: 0, default: 0 };
    for (const r of results.values()) {
      for (const t of r.servedBy) {
        if (t === 'bundle') servedBy.bundle++;
        else if (t === 'lru') servedBy.lru++;
        else if (t === 'redis') servedBy.redis++;
        else servedBy.default++;
      }
    }
    return { plan, results, servedBy };
  };
  return pending.length === 0 ? finish() : Promise.all(pending).then(finish);
}

/** Feast's response to `body`, statuses judged at `opts.nowMs`. */
export function getOnlineFeatures(
  catalog: ServingCatalog,
  resolver: Resolver,
  body: unknown,
  opts: OnlineOptions,
): OnlineFeaturesResponse | Promise<OnlineFeaturesResponse> {
  const resolved = resolveRequest(catalog, resolver, body, opts.maxEntities);
  const build = (r: ResolvedRequest) => buildResponse(r.plan, r.results, opts.nowMs);
  return resolved instanceof Promise ? resolved.then(build) : build(resolved);
}

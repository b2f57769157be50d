/**
 * getOnlineFeatures, once: plan the request, resolve each view through the
 * tiers, build Feast's response. The in-process API and the sidecar both
 * call this; it is synchronous unless a tier is remote.
 */
import { type OnlineFeaturesResponse, type RequestPlan, buildResponse, planRequest } from './feast.js';
import type { ServingCatalog } from './resolve/catalog.js';
import type { Resolver, ViewResult } from './resolve/resolver.js';
import type { TierName } from './resolve/tier.js';

export interface OnlineResult {
  response: OnlineFeaturesResponse;
  /** Entity lookups (entity x view) answered by each tier. */
  servedBy: Record<TierName, number>;
  entityCount: number;
  /** The request as planned: which views, keys and output columns. */
  plan: RequestPlan;
}

export interface OnlineOptions {
  /** The time statuses are judged at, epoch ms. */
  nowMs: number;
  maxEntities?: number;
}

export function getOnlineFeatures(
  catalog: ServingCatalog,
  resolver: Resolver,
  body: unknown,
  opts: OnlineOptions,
): OnlineResult | Promise<OnlineResult> {
  const plan = planRequest(catalog, body, opts.maxEntities);
  const results = new Map<string, ViewResult>();
  const pending: Promise<void>[] = [];
  for (const { view, keys } of plan.views) {
    const r = resolver.resolve(view, keys);
    if (r instanceof Promise) pending.push(r.then((v) => void results.set(view.name, v)));
    else results.set(view.name, r);
  }
  const finish = (): OnlineResult => {
    const servedBy: Record<TierName, number> = { lru: 0, bundle: 0, redis: 0, default: 0 };
    for (const r of results.values()) {
      for (const t of r.servedBy) {
        if (t === 'bundle') servedBy.bundle++;
        else if (t === 'lru') servedBy.lru++;
        else if (t === 'redis') servedBy.redis++;
        else servedBy.default++;
      }
    }
    return { response: buildResponse(plan, results, opts.nowMs), servedBy, entityCount: plan.entityCount, plan };
  };
  return pending.length === 0 ? finish() : Promise.all(pending).then(finish);
}

/**
 * getOnlineFeatures, once: plan the request and resolve each view through
 * the tiers. The in-process API builds Feast's response from that; the
 * sidecar writes it as JSON without building it (both through
 * AnswerColumns). Synchronous unless a tier is remote.
 */
import type { ValueRule } from '../asof.js';
import type { Resolver, ViewResult } from '../resolve/resolver.js';
import { buildResponse } from './answer.js';
import type { ServingCatalog } from './catalog.js';
import { type OnlineFeaturesResponse, type RequestPlan, planRequest } from './request.js';

export interface ResolvedRequest {
  /** The request as planned: which views, keys and output columns. */
  plan: RequestPlan;
  /** Per view name, its rows and the tier that served each. */
  results: ReadonlyMap<string, ViewResult>;
  /** The resolver's tier names, then 'default': servedBy[i] counts tierNames[i]. */
  tierNames: readonly string[];
  /** Entity lookups (entity x view) answered by each tier, by index into tierNames. */
  servedBy: Int32Array;
}

export interface OnlineOptions {
  /** The time statuses are judged at, epoch ms. */
  nowMs: number;
  maxEntities?: number;
  /** How holes are answered (default: every hole reads as the feature's default). */
  rule: ValueRule;
}

export function resolveRequest(catalog: ServingCatalog, resolver: Resolver, body: unknown, maxEntities?: number): ResolvedRequest | Promise<ResolvedRequest> {
  const plan = planRequest(catalog, body, maxEntities);
  const results = new Map<string, ViewResult>();
  const waiting: { name: string; result: Promise<ViewResult> }[] = [];
  for (const { view, keys } of plan.views) {
    const r = resolver.resolve(view, keys);
    if (r instanceof Promise) waiting.push({ name: view.name, result: r });
    else results.set(view.name, r);
  }
  const finish = (): ResolvedRequest => {
    const servedBy = new Int32Array(resolver.tierNames.length);
    for (const r of results.values()) for (const t of r.servedBy) servedBy[t]!++;
    return { plan, results, tierNames: resolver.tierNames, servedBy };
  };
  if (waiting.length === 0) return finish();
  if (waiting.length === 1) {
    // One view waits on a remote tier (the usual request): one reaction on the request's path, not three.
    const { name, result } = waiting[0]!;
    return result.then((v) => {
      results.set(name, v);
      return finish();
    });
  }
  return Promise.all(waiting.map(({ name, result }) => result.then((v) => void results.set(name, v)))).then(finish);
}

/** Feast's response to `body`, statuses judged at `opts.nowMs`. */
export function getOnlineFeatures(
  catalog: ServingCatalog,
  resolver: Resolver,
  body: unknown,
  opts: OnlineOptions,
): OnlineFeaturesResponse | Promise<OnlineFeaturesResponse> {
  const resolved = resolveRequest(catalog, resolver, body, opts.maxEntities);
  const build = (r: ResolvedRequest) => buildResponse(r.plan, r.results, opts.nowMs, opts.rule);
  return resolved instanceof Promise ? resolved.then(build) : build(resolved);
}

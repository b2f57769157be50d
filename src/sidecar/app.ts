/**
 * The sidecar's HTTP app: Feast's POST /get-online-features plus health,
 * readiness, the loaded manifest and Prometheus metrics. `createApp` only
 * builds the Hono app; serve.ts binds it. Every error leaves as
 * `{ "error": { "code", "message" } }` with the status the error catalog
 * gives its code; anything that is not a LarderError is a bug, answered 500
 * and logged with its stack.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { LarderError } from '../core/errors.js';
import { type OnlineResult, getOnlineFeatures } from '../core/online.js';
import type { TierName } from '../core/resolve/tier.js';
import { feastResponseJson } from './feast-json.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { readJsonBody } from './request-body.js';
import type { ServingStateHolder } from './serving-state.js';

export interface AppLimits {
  /** Largest request body accepted, bytes. */
  maxBodyBytes: number;
  /** Most entities per request. */
  maxEntities: number;
}

export interface AppDeps {
  state: ServingStateHolder;
  /** The clock statuses are judged by, epoch ms (tests inject one to expire TTLs). */
  now: () => number;
  limits: AppLimits;
  metrics: Metrics;
  log: Logger;
}

/** Routes and their methods, so a wrong method gets a helpful 404. */
const ROUTES: ReadonlyMap<string, string> = new Map([
  ['/get-online-features', 'POST'],
  ['/health', 'GET'],
  ['/ready', 'GET'],
  ['/bundle', 'GET'],
  ['/metrics', 'GET'],
]);
const UNMATCHED_ROUTE = 'unmatched';

const JSON_TYPE = 'application/json';

function errorResponse(err: LarderError, extraHeaders?: Record<string, string>): Response {
  return new Response(JSON.stringify(err.toJSON()), {
    status: err.httpStatus,
    headers: { 'content-type': JSON_TYPE, ...extraHeaders },
  });
}

function servedByHeader(s: Readonly<Record<TierName, number>>): string {
  return `lru=${s.lru},bundle=${s.bundle},redis=${s.redis},default=${s.default}`;
}

export function createApp(deps: AppDeps): Hono {
  const { state: holder, now, limits, metrics, log } = deps;
  const app = new Hono();

  /** Any thrown value as the error response: catalog status for LarderError, a logged 500 for bugs. */
  const toErrorResponse = (err: unknown, c: Context): Response => {
    if (err instanceof LarderError) {
      const state = holder.current;
      return errorResponse(err, state ? { 'x-larder-bundle-version': state.versionHeader } : undefined);
    }
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log.error(`unexpected error answering ${c.req.method} ${c.req.path}: ${detail}`);
    return errorResponse(new LarderError('LARDER_ERR_INTERNAL', 'internal error: the sidecar logged the details'));
  };

  /**
   * Wraps a route so it counts its requests and latency and turns what it
   * throws into the error response. A wrapper, not a middleware: with one
   * handler per route Hono skips its middleware chain on the hot path.
   */
  const measured = (route: string, handler: (c: Context) => Response | Promise<Response>) => async (c: Context): Promise<Response> => {
    const start = performance.now();
    let res: Response;
    try {
      res = await handler(c);
    } catch (err) {
      res = toErrorResponse(err, c);
    }
    metrics.observeRequest(route, res.status, (performance.now() - start) / 1000);
    return res;
  };

  app.post('/get-online-features', measured('/get-online-features', async (c) => {
    const state = holder.current;
    if (!state) throw new LarderError('LARDER_ERR_NOT_READY', `no bundle loaded: ${holder.notReadyReason}`);
    const t0 = performance.now();
    const body = await readJsonBody(c, limits.maxBodyBytes);
    const t1 = performance.now();
    const pending = getOnlineFeatures(state.catalog, state.resolver, body, { nowMs: now(), maxEntities: limits.maxEntities });
    const result: OnlineResult = pending instanceof Promise ? await pending : pending;
    const t2 = performance.now();
    // planRequest accepted `entities` as an object: one result column per key.
    metrics.countServed(result.servedBy, result.response, Object.keys((body as { entities: object }).entities).length);
    return new Response(feastResponseJson(result.response), {
      status: 200,
      headers: {
        'content-type': JSON_TYPE,
        'x-larder-bundle-version': state.versionHeader,
        'x-larder-served-by': servedByHeader(result.servedBy),
        'server-timing': `body;dur=${(t1 - t0).toFixed(3)}, resolve;dur=${(t2 - t1).toFixed(3)}`,
      },
    });
  }));

  app.get('/health', measured('/health', (c) => c.json({ status: 'ok' })));

  app.get('/ready', measured('/ready', (c) => {
    const state = holder.current;
    if (!state) throw new LarderError('LARDER_ERR_NOT_READY', `not ready: ${holder.notReadyReason}`);
    c.header('x-larder-bundle-version', state.versionHeader);
    return c.json({ status: 'ready', project: state.manifest.project, version: state.version });
  }));

  app.get('/bundle', measured('/bundle', (c) => {
    const state = holder.current;
    if (!state) throw new LarderError('LARDER_ERR_NOT_READY', `no bundle loaded: ${holder.notReadyReason}`);
    c.header('x-larder-bundle-version', state.versionHeader);
    return c.json(state.manifest);
  }));

  app.get('/metrics', measured('/metrics', (c) => {
    c.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return c.body(metrics.render(holder, now()));
  }));

  // Unknown paths, and known paths with the wrong method, under one metrics label.
  app.notFound(measured(UNMATCHED_ROUTE, (c) => {
    const method = ROUTES.get(c.req.path);
    const hint = method ? ` (${c.req.path} takes ${method})` : ` (routes: ${[...ROUTES].map(([p, m]) => `${m} ${p}`).join(', ')})`;
    return errorResponse(new LarderError('LARDER_ERR_NOT_FOUND', `no route ${c.req.method} ${c.req.path}${hint}`));
  }));

  // The routes catch their own errors; this is the net under Hono itself.
  app.onError((err, c) => toErrorResponse(err, c));

  return app;
}

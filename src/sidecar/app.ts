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
import { type Answer, ONLINE_ROUTE, type RouteDeps, answerOnlineFeatures, errorAnswer } from './online-route.js';
import { honoBodyReader } from './request-body.js';

export type { AppLimits } from './online-route.js';
export type AppDeps = RouteDeps;

/** Routes and their methods, so a wrong method gets a helpful 404. */
const ROUTES: ReadonlyMap<string, string> = new Map([
  ['/get-online-features', 'POST'],
  ['/health', 'GET'],
  ['/ready', 'GET'],
  ['/bundle', 'GET'],
  ['/metrics', 'GET'],
  ['/drift', 'GET'],
]);
const UNMATCHED_ROUTE = 'unmatched';

const toResponse = (a: Answer): Response => new Response(a.body, { status: a.status, headers: a.headers });

export function createApp(deps: AppDeps): Hono {
  const { state: holder, now, limits, metrics } = deps;
  const app = new Hono();

  /** Any thrown value as the error response (see errorAnswer). */
  const toErrorResponse = (err: unknown, c: Context): Response => toResponse(errorAnswer(deps, err, `${c.req.method} ${c.req.path}`));

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

  app.post(ONLINE_ROUTE, measured(ONLINE_ROUTE, async (c) => {
    const { header, read } = honoBodyReader(c, limits.maxBodyBytes);
    return toResponse(await answerOnlineFeatures(deps, header, read));
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

  app.get('/drift', measured('/drift', (c) => {
    const state = holder.current;
    if (!state) throw new LarderError('LARDER_ERR_NOT_READY', `no bundle loaded: ${holder.notReadyReason}`);
    const report = deps.tap?.driftReport(state, now());
    if (!report) throw new LarderError('LARDER_ERR_NOT_FOUND', 'drift is off: start the sidecar with --drift-sample above 0');
    c.header('x-larder-bundle-version', state.versionHeader);
    return c.json(report);
  }));

  // Unknown paths, and known paths with the wrong method, under one metrics label.
  app.notFound(measured(UNMATCHED_ROUTE, (c) => {
    const method = ROUTES.get(c.req.path);
    const hint = method ? ` (${c.req.path} takes ${method})` : ` (routes: ${[...ROUTES].map(([p, m]) => `${m} ${p}`).join(', ')})`;
    throw new LarderError('LARDER_ERR_NOT_FOUND', `no route ${c.req.method} ${c.req.path}${hint}`);
  }));

  // The routes catch their own errors; this is the net under Hono itself.
  app.onError((err, c) => toErrorResponse(err, c));

  return app;
}

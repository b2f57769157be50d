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
import { type Answer, ONLINE_ROUTE, type RouteDeps, errorAnswer, handleOnline } from './online-route.js';
import { PUSH_ROUTE, type PushDeps, answerPush } from './push/route.js';
import { honoBodyReader, readBodyAsync } from './request-body.js';

export type { AppLimits } from './online-route.js';
export interface AppDeps extends RouteDeps {
  /** POST /push (writes); without it, writes are off (403). */
  push?: PushDeps;
}

/** Routes and their methods, so a wrong method gets a helpful 404. */
const ROUTES: ReadonlyMap<string, string> = new Map([
  ['/get-online-features', 'POST'],
  ['/health', 'GET'],
  ['/ready', 'GET'],
  ['/bundle', 'GET'],
  ['/metrics', 'GET'],
  [PUSH_ROUTE, 'POST'],
  ['/hot-keys', 'GET'],
  ['/admin/rollback', 'POST'],
  ['/drift', 'GET'],
]);
const UNMATCHED_ROUTE = 'unmatched';

const toResponse = (a: Answer): Response => new Response(a.body, { status: a.status, headers: a.headers });

/**
 * `mount` adds the lifecycle routes (lifecycle/admin.ts, lifecycle/hot-keys.ts)
 * with the same metrics and error handling as the routes here.
 */
export function createApp(deps: AppDeps, mount?: (app: Hono, measured: (route: string, handler: (c: Context) => Response | Promise<Response>) => (c: Context) => Promise<Response>) => void): Hono {
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

  // handleOnline records this route's metrics itself, for every transport.
  app.post(ONLINE_ROUTE, (c) => {
    const { header, read } = honoBodyReader(c, limits.maxBodyBytes);
    return new Promise<Response>((resolve) =>
      handleOnline(deps, header, read, (answer) => {
        resolve(toResponse(answer));
        return true;
      }),
    );
  });

  app.post(PUSH_ROUTE, measured(PUSH_ROUTE, async (c) => {
    const { header, read } = honoBodyReader(c, limits.maxBodyBytes);
    return toResponse(await answerPush(deps, deps.push, header, () => readBodyAsync(read)));
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

  mount?.(app, measured);
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

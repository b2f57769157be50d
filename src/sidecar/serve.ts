/**
 * Binds the sidecar: builds the serving state, loads bundles from the
 * directory, listens, and shuts down gracefully. Shutdown stops accepting
 * connections, lets requests in flight finish (their connections close
 * after the response), closes idle keep-alive connections, and after
 * `graceMs` cuts whatever is left. Timeouts, the connection cap and answers
 * below the routes are connections.ts's.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { stat } from 'node:fs/promises';
import { getRequestListener } from '@hono/node-server';
import { LarderError, quoteInput } from '../core/errors.js';
import { LruTier } from '../core/resolve/tiers/lru.js';
import { BufferPool } from './buffer-pool.js';
import { type AppDeps, createApp } from './app.js';
import { BundleDirSource } from './bundle-dir-source.js';
import { BurstLog, type Logger, stderrLogger } from './log.js';
import { Metrics } from './metrics.js';
import type { ServeOptions } from './options.js';
import { type Answer, ONLINE_ROUTE, type RouteDeps, errorAnswer, handleOnline } from './online-route.js';
import { type BodyReader, collectIncoming, incomingHeader } from './request-body.js';
import { CONNECTION_ROUTE, type ConnectionGuard, HTTP_TIMEOUTS, answerEarly, guardConnections } from './connections.js';
import { ServingStateHolder } from './serving-state.js';
import { pushDeps, redisServing } from './redis-serving.js';
import { type Lifecycle, createLifecycle } from './lifecycle/wire.js';
import { startServedTap } from './served-log/start.js';

export interface Sidecar {
  readonly host: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Base URL, e.g. http://127.0.0.1:6566. */
  readonly url: string;
  readonly holder: ServingStateHolder;
  readonly metrics: Metrics;
  readonly source: BundleDirSource;
  /** Signature and version checks, hot-key counts (lifecycle/). */
  readonly lifecycle: Lifecycle;
  /** Client connections open now, refused ones included. */
  readonly openConnections: number;
  /**
   * Stops accepting, lets in-flight requests finish for up to `graceMs`,
   * then cuts the rest. Resolves with the number of connections cut.
   * Called again while closing with `graceMs` 0, it cuts them at once.
   */
  close(graceMs: number): Promise<number>;
}

export interface SidecarExtras {
  /** Clock for statuses and bundle age, epoch ms (default Date.now). */
  now?: () => number;
  log?: Logger;
}

/**
 * Starts a sidecar with `options`; rejects with LARDER_ERR_OPTION when
 * --bundles is not a readable folder, LARDER_ERR_LISTEN when it cannot listen.
 */
export async function startSidecar(options: ServeOptions, extras: SidecarExtras = {}): Promise<Sidecar> {
  const now = extras.now ?? Date.now;
  const log = extras.log ?? stderrLogger;
  await checkBundleDir(options.bundles);

  const metrics = new Metrics();
  const tierLog = new BurstLog(log);
  const redis = redisServing(options, { log, metrics });
  const holder = new ServingStateHolder({
    lru: new LruTier(options.cacheMaxBytes, redis?.lruTtlMs),
    ...(redis && { tiersBeforeBundle: redis.tiersBeforeBundle, tiersAfterBundle: redis.tiersAfterBundle, bundleUnsettled: redis.bundleUnsettled }),
    now,
    onTierError: (tier, error) => {
      metrics.countTierError(tier.name);
      tierLog.warn(`tier ${tier.name}`, `tier ${tier.name}: ${error instanceof Error ? error.message : String(error)}; its keys were answered as misses`);
    },
  });
  const lifecycle = await createLifecycle(options, { holder, log, metrics, now });
  const source = new BundleDirSource({ dir: options.bundles, pollMs: options.pollMs, holder, log, metrics, maxBundleBytes: options.maxBundleBytes, gate: lifecycle.gate });
  await source.start();
  redis?.start(holder);
  await lifecycle.startSync(() => source.check());

  const rule = { serveStale: options.serveStale };
  const tap = await startServedTap(options, { rule, metrics, log }).catch(async (e: unknown) => {
    source.stop();
    lifecycle.stop();
    await redis?.close();
    throw e;
  });
  const deps: AppDeps = {
    state: holder,
    now,
    rule,
    limits: { maxBodyBytes: options.maxBodyBytes, maxEntities: options.maxEntities },
    metrics,
    log,
    push: pushDeps(options, redis),
    hotKeys: lifecycle.hotKeys,
    tap,
  };
  const { server, guard, endKeepAlive } = createHttpServer(deps, options.maxConnections, lifecycle.mount);
  try {
    await listen(server, options.port, options.host);
  } catch (e) {
    source.stop();
    await redis?.close();
    lifecycle.stop();
    await tap?.close();
    throw e;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const urlHost = options.host.includes(':') ? `[${options.host}]` : options.host;

  let shutdown: { done: Promise<number>; cutNow(): void } | undefined;
  return {
    host: options.host,
    port,
    url: `http://${urlHost}:${port}`,
    holder,
    metrics,
    source,
    lifecycle,
    get openConnections() {
      return guard.open;
    },
    close(graceMs: number): Promise<number> {
      source.stop();
      lifecycle.stop();
      // A request still arriving on an open keep-alive connection is
      // answered, and its connection closes after the response.
      endKeepAlive();
      if (!shutdown) shutdown = closeGracefully(server, guard, graceMs, async () => {
        // Every answer sent is in the tap and the hot-key counts by now: write them all before resolving.
        await tap?.close();
        await lifecycle.close();
        await redis?.close();
      });
      else if (graceMs === 0) shutdown.cutNow();
      return shutdown.done;
    },
  };
}

/** The one line printed when the sidecar listens. */
export function listeningLine(sidecar: Sidecar): string {
  const state = sidecar.holder.current;
  const bundle = state ? `bundle ${state.manifest.project} v${state.version}` : 'no bundle yet';
  return `larder sidecar listening on ${sidecar.url} (host ${sidecar.host}, port ${sidecar.port}, ${bundle})`;
}

/**
 * Resolves with exit code 0 once a SIGTERM or SIGINT has been handled by a
 * graceful close. A second signal cuts remaining connections at once.
 */
export function closeOnSignals(sidecar: Sidecar, graceMs: number, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    let received = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      received++;
      if (received > 1) {
        log.warn(`${signal} again: cutting the connections still open`);
        void sidecar.close(0);
        return;
      }
      log.info(`${signal}: not accepting new connections; finishing requests in flight (up to ${graceMs} ms)`);
      void sidecar.close(graceMs).then((cut) => {
        if (cut > 0) log.warn(`cut ${cut} connection(s) still open after ${graceMs} ms`);
        else log.info('all requests answered; stopped');
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/**
 * The HTTP server. Hono answers every route; the one hot route is also
 * wired straight to node:http, to the same answerBody, skipping the
 * adapter's per-request cost. `endKeepAlive` makes every later response
 * close its connection (shutdown).
 */
function createHttpServer(deps: RouteDeps, maxConnections: number, mount?: Lifecycle['mount']): { server: Server; guard: ConnectionGuard; endKeepAlive(): void } {
  const honoListener = getRequestListener(createApp(deps, mount).fetch);
  const bodies = new BufferPool();
  let keepAlive = true;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (!keepAlive) res.shouldKeepAlive = false;
    if (req.headers.host === undefined && req.httpVersionMinor === 1) answerEarlyError(deps, req, MISSING_HOST);
    else if (req.method === 'POST' && isOnlineRoute(req.url)) answerDirect(deps, bodies, req, res);
    else void honoListener(req, res);
  };
  const server = createServer(
    // node:http's own Host check would answer a bare 400; onRequest answers it with the JSON body.
    { requireHostHeader: false, connectionsCheckingInterval: HTTP_TIMEOUTS.checkEveryMs },
    onRequest,
  );
  // Expect: 100-continue. On the online route a body its headers already
  // refuse (too large, not JSON) is answered at once, rather than invited
  // with 100 Continue (answerDirect invites it once the headers passed).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!keepAlive) res.shouldKeepAlive = false;
    if (req.method === 'POST' && isOnlineRoute(req.url) && req.headers.host !== undefined) {
      answerDirect(deps, bodies, req, res, true);
      return;
    }
    res.writeContinue();
    onRequest(req, res);
  });
  server.on('checkExpectation', (req: IncomingMessage) => {
    const expectation = quoteInput(req.headers.expect ?? '');
    answerEarlyError(deps, req, new LarderError('LARDER_ERR_EXPECTATION_FAILED', `Expect: ${expectation} is not supported; the only expectation is 100-continue`));
  });
  const guard = guardConnections(server, {
    maxConnections,
    log: deps.log,
    metrics: deps.metrics,
    headers: (): Record<string, string> => {
      const state = deps.state.current;
      return state ? { 'x-larder-bundle-version': state.versionHeader } : {};
    },
  });
  return { server, guard, endKeepAlive: () => (keepAlive = false) };
}

async function checkBundleDir(dir: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (e) {
    // A directory that does not exist yet is fine: it is polled until a bundle appears.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new LarderError('LARDER_ERR_OPTION', `--bundles (LARDER_BUNDLES): cannot read ${dir}: ${(e as Error).message}`, { cause: e });
  }
  if (!isDirectory) throw new LarderError('LARDER_ERR_OPTION', `--bundles (LARDER_BUNDLES) must be a directory, but ${dir} is not one`);
}

/**
 * The hot route on node:http: handleOnline with the body collected straight
 * from the IncomingMessage and the answer written without a promise while
 * every tier is synchronous. With `Expect: 100-continue` the client is
 * invited to send its body only once the headers passed.
 */
function answerDirect(deps: RouteDeps, pool: BufferPool, req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
  let lent: Buffer<ArrayBuffer> | undefined;
  const alloc = (size: number) => (lent = pool.take(size));
  const respond = (answer: Answer): boolean => {
    // An answer given before the body was read whole (413, a dropped
    // client) closes the connection, draining what the client still sends;
    // it is not counted when the connection was answered already (a
    // timeout, malformed bytes).
    if (!req.complete) {
      const sent = answerEarly(req, answer.status, answer.headers, answer.body);
      if (lent) pool.give(lent);
      return sent;
    }
    // writeHead stores the header at once: without a length Node would send
    // the body chunked, which costs a second write per response.
    answer.headers['content-length'] = String(Buffer.byteLength(answer.body));
    res.writeHead(answer.status, answer.headers);
    // Once the response is flushed to the socket its body buffer is free again.
    res.end(answer.body, () => lent && pool.give(lent));
    return true;
  };
  const read: BodyReader = (done) => {
    if (expectsContinue) res.writeContinue();
    collectIncoming(req, deps.limits.maxBodyBytes, done);
  };
  handleOnline(deps, incomingHeader(req), read, respond, alloc);
}

/** The usual reasons a bind fails, with the option that fixes each. */
const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'another process holds the port: choose another with --port or LARDER_PORT',
  EACCES: 'this port needs privileges: choose another with --port or LARDER_PORT',
  EADDRNOTAVAIL: 'no such address on this machine: check --host or LARDER_HOST',
  ENOTFOUND: 'unknown host name: check --host or LARDER_HOST',
};

const MISSING_HOST = new LarderError('LARDER_ERR_BAD_REQUEST', 'malformed HTTP request: an HTTP/1.1 request must carry a Host header');

/** The online route, with or without a query string. */
const isOnlineRoute = (url: string | undefined): boolean => url === ONLINE_ROUTE || (url !== undefined && url.startsWith(`${ONLINE_ROUTE}?`));

/**
 * Answers a request that broke HTTP's rules before any route saw it (no
 * Host, an unsupported Expect) and closes its connection (see answerEarly);
 * counted under the `connection` route label, as connections.ts counts
 * malformed requests.
 */
function answerEarlyError(deps: RouteDeps, req: IncomingMessage, err: unknown): void {
  const answer = errorAnswer(deps, err, `${req.method} ${req.url}`);
  if (answerEarly(req, answer.status, answer.headers, answer.body)) deps.metrics.observeRequest(CONNECTION_ROUTE, answer.status, 0);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const hint = LISTEN_HINTS[e.code ?? ''];
      reject(new LarderError('LARDER_ERR_LISTEN', `cannot listen on ${host}:${port}: ${e.message}${hint ? ` (${hint})` : ''}`, { cause: e }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function closeGracefully(server: Server, guard: ConnectionGuard, graceMs: number, afterClose: () => Promise<void> | undefined): { done: Promise<number>; cutNow(): void } {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A connection becomes idle when its in-flight response is done.
  const sweep = setInterval(() => server.closeIdleConnections(), 25);
  let cut = 0;
  // Every socket, not only those node:http tracks: one half-way through a
  // request, or closing after an early answer, must not outlive the grace.
  const cutNow = () => {
    cut = guard.cutAll();
  };
  const deadline = setTimeout(cutNow, graceMs);
  const done = closed.then(async () => {
    clearInterval(sweep);
    clearTimeout(deadline);
    await afterClose();
    return cut;
  });
  return { done, cutNow };
}

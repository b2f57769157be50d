/**
 * Binds the sidecar: builds the serving state, loads bundles from the
 * directory, listens, and shuts down gracefully. Shutdown stops accepting
 * connections, lets requests in flight finish (their connections close
 * after the response), closes idle keep-alive connections, and after
 * `graceMs` cuts whatever is left.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { stat } from 'node:fs/promises';
import { getRequestListener } from '@hono/node-server';
import { LruTier } from '../core/resolve/tiers/lru.js';
import { BufferPool } from './buffer-pool.js';
import { createApp } from './app.js';
import { BundleDirSource } from './bundle-dir-source.js';
import { BurstLog, type Logger, stderrLogger } from './log.js';
import { Metrics } from './metrics.js';
import { OptionError, type ServeOptions } from './options.js';
import { type Answer, ONLINE_ROUTE, type RouteDeps, answerBody, errorAnswer } from './online-route.js';
import { checkBodyHeaders, collectIncoming, incomingHeader } from './request-body.js';
import { ServingStateHolder } from './serving-state.js';
import { startServedTap } from './served-log/start.js';

/** The sidecar could not bind its address (taken, not permitted, unknown host). */
export class ListenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

export interface Sidecar {
  readonly host: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Base URL, e.g. http://127.0.0.1:6566. */
  readonly url: string;
  readonly holder: ServingStateHolder;
  readonly metrics: Metrics;
  readonly source: BundleDirSource;
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

/** Starts a sidecar with `options`; rejects when it cannot listen. */
export async function startSidecar(options: ServeOptions, extras: SidecarExtras = {}): Promise<Sidecar> {
  const now = extras.now ?? Date.now;
  const log = extras.log ?? stderrLogger;
  await checkBundleDir(options.bundles);

  const metrics = new Metrics();
  const tierLog = new BurstLog(log);
  const holder = new ServingStateHolder({
    lru: new LruTier(options.cacheMaxBytes),
    now,
    onTierError: (tier, error) => {
      metrics.countTierError(tier.name);
      tierLog.warn(`tier ${tier.name}`, `tier ${tier.name}: ${error instanceof Error ? error.message : String(error)}; its keys were answered as misses`);
    },
  });
  const source = new BundleDirSource({ dir: options.bundles, pollMs: options.pollMs, holder, log, metrics });
  await source.start();

  const rule = { serveStale: options.serveStale };
  const tap = await startServedTap(options, { rule, metrics, log }).catch((e: unknown) => {
    source.stop();
    throw e;
  });
  const deps: RouteDeps = {
    state: holder,
    now,
    rule,
    limits: { maxBodyBytes: options.maxBodyBytes, maxEntities: options.maxEntities },
    metrics,
    log,
    tap,
  };
  // Hono answers every route; the one hot route is also wired straight to
  // node:http, to the same answerBody, skipping the adapter's per-request
  // cost.
  const honoListener = getRequestListener(createApp(deps).fetch);
  const bodies = new BufferPool();
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === ONLINE_ROUTE) answerDirect(deps, bodies, req, res);
    else void honoListener(req, res);
  });
  try {
    await listen(server, options.port, options.host);
  } catch (e) {
    source.stop();
    await tap?.close();
    throw e;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const urlHost = options.host.includes(':') ? `[${options.host}]` : options.host;

  let closing: { done: Promise<number>; cutNow(): void } | undefined;
  return {
    host: options.host,
    port,
    url: `http://${urlHost}:${port}`,
    holder,
    metrics,
    source,
    close(graceMs: number): Promise<number> {
      source.stop();
      if (!closing) {
        const c = closeGracefully(server, graceMs);
        // Every answer sent is in the tap by now: write them all before resolving.
        closing = { cutNow: c.cutNow, done: c.done.then(async (cut) => (await tap?.close(), cut)) };
      } else if (graceMs === 0) closing.cutNow();
      return closing.done;
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

async function checkBundleDir(dir: string): Promise<void> {
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new OptionError(`--bundles (LARDER_BUNDLES) must be a directory, but ${dir} is not one`);
  } catch (e) {
    if (e instanceof OptionError) throw e;
    // A directory that does not exist yet is fine: it is polled until a bundle appears.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new OptionError(`--bundles (LARDER_BUNDLES): cannot read ${dir}: ${(e as Error).message}`);
  }
}

/**
 * The hot route on node:http: headers checked, body collected, answered and
 * sent without a promise while every tier is synchronous.
 */
function answerDirect(deps: RouteDeps, pool: BufferPool, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  let lent: Buffer<ArrayBuffer> | undefined;
  const alloc = (size: number) => (lent = pool.take(size));
  const send = (answer: Answer) => {
    // An answer given before the body was read whole (413, a dropped client)
    // closes the connection rather than reading the rest of the body.
    if (!req.complete) answer.headers.connection = 'close';
    // writeHead stores the header at once: without a length Node would send
    // the body chunked, which costs a second write per response.
    answer.headers['content-length'] = String(Buffer.byteLength(answer.body));
    res.writeHead(answer.status, answer.headers);
    // Once the response is flushed to the socket its body buffer is free again.
    res.end(answer.body, () => lent && pool.give(lent));
    deps.metrics.observeRequest(ONLINE_ROUTE, answer.status, (performance.now() - start) / 1000);
  };
  try {
    checkBodyHeaders(incomingHeader(req), deps.limits.maxBodyBytes);
  } catch (err) {
    send(errorAnswer(deps, err, `POST ${ONLINE_ROUTE}`));
    return;
  }
  collectIncoming(req, deps.limits.maxBodyBytes, (err, body) => {
    const answer = err ? errorAnswer(deps, err, `POST ${ONLINE_ROUTE}`) : answerBody(deps, body!, start, alloc);
    if (answer instanceof Promise) void answer.then(send);
    else send(answer);
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(new ListenError(`cannot listen on ${host}:${port}: ${e.message}`, { cause: e }));
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

function closeGracefully(server: Server, graceMs: number): { done: Promise<number>; cutNow(): void } {
  // Requests that still arrive on open keep-alive connections are answered,
  // and their connection closes after the response.
  server.prependListener('request', (_req, res) => {
    res.shouldKeepAlive = false;
  });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A connection becomes idle when its in-flight response is done.
  const sweep = setInterval(() => server.closeIdleConnections(), 25);
  let cut = 0;
  const cutNow = () => {
    server.getConnections((_err, count) => {
      cut = count;
      server.closeAllConnections();
    });
  };
  const deadline = setTimeout(cutNow, graceMs);
  const done = closed.then(() => {
    clearInterval(sweep);
    clearTimeout(deadline);
    return cut;
  });
  return { done, cutNow };
}

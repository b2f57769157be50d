/**
 * POST /get-online-features, once, for every transport: handleOnline is
 * called by the Hono route in app.ts and by serve.ts's direct node:http
 * path for this one hot route (Hono's adapter alone costs about a third of
 * a bare server's throughput). It checks the headers, reads the body
 * through the transport's reader, answers with a status, headers and the
 * JSON body, and records the request's metrics: the one place this route's
 * requests are counted. Nothing here throws.
 */
import type { Buffer } from 'node:buffer';
import type { ValueRule } from '../core/asof.js';
import { LarderError } from '../core/errors.js';
import { AnswerColumns } from '../core/feast/answer.js';
import { type ResolvedRequest, resolveRequest } from '../core/feast/online.js';
import { feastResponseJson } from '../core/feast/response-json.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { ServedTap } from './served-log/tap.js';
import { type BodyReader, type HeaderReader, checkBodyHeaders, parseJson } from './request-body.js';
import type { ServingState, ServingStateHolder } from './serving-state.js';

export const ONLINE_ROUTE = '/get-online-features';
const JSON_TYPE = 'application/json';

export interface AppLimits {
  /** Largest request body accepted, bytes. */
  maxBodyBytes: number;
  /** Most entities per request. */
  maxEntities: number;
}

export interface RouteDeps {
  state: ServingStateHolder;
  /** The clock statuses are judged by, epoch ms (tests inject one to expire TTLs). */
  now: () => number;
  /** How holes are answered (--serve-stale). */
  rule: ValueRule;
  limits: AppLimits;
  metrics: Metrics;
  log: Logger;
  /** Told the keys of every answered request (the hot-key sketch, lifecycle/hot-keys.ts). */
  hotKeys?: { observe(views: ResolvedRequest['plan']['views']): void };
  /** The served-value log and drift window, when on: offered every answer (served-log/tap.ts). */
  tap?: ServedTap;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  /** JSON text, or its UTF-8 bytes. */
  body: string | Buffer<ArrayBuffer>;
}

/** Milliseconds with three decimals, as toFixed(3) writes them for these small non-negative durations, without its printf. */
function millis(ms: number): string {
  const us = Math.round(ms * 1000);
  const frac = us % 1000;
  return `${(us - frac) / 1000}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** `x-larder-served-by`: entity lookups per configured tier, e.g. `bundle=3,default=1`. */
function servedByHeader(names: readonly string[], counts: Int32Array): string {
  let s = '';
  for (let i = 0; i < names.length; i++) s += (i === 0 ? '' : ',') + names[i] + '=' + counts[i];
  return s;
}

/**
 * Any thrown value as an answer: the catalog's status for a LarderError, a
 * logged 500 for anything else (a bug, never the client's doing).
 */
export function errorAnswer(deps: RouteDeps, err: unknown, what: string): Answer {
  const headers: Record<string, string> = { 'content-type': JSON_TYPE };
  const state = deps.state.current;
  if (state) headers['x-larder-bundle-version'] = state.versionHeader;
  if (err instanceof LarderError) return { status: err.httpStatus, headers, body: JSON.stringify(err.toJSON()) };
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  deps.log.error(`unexpected error answering ${what}: ${detail}`);
  const bug = new LarderError('LARDER_ERR_INTERNAL', 'internal error: the sidecar logged the details');
  return { status: bug.httpStatus, headers, body: JSON.stringify(bug.toJSON()) };
}

/** The route as error answers and logs name it. */
const ROUTE_LABEL = `POST ${ONLINE_ROUTE}`;

/**
 * The online route for any transport. `respond` delivers the answer and says
 * whether it reached the client (an answer to a connection that was already
 * answered or cut is not counted). `alloc` gives the memory the JSON body
 * is copied into (see BufferPool); it is called at most once. Synchronous,
 * with no promise, while every tier is.
 */
export function handleOnline(
  deps: RouteDeps,
  header: HeaderReader,
  readBody: BodyReader,
  respond: (answer: Answer) => boolean,
  alloc?: (size: number) => Buffer<ArrayBuffer>,
): void {
  const t0 = performance.now();
  const finish = (answer: Answer) => {
    if (respond(answer)) deps.metrics.observeRequest(ONLINE_ROUTE, answer.status, (performance.now() - t0) / 1000);
  };
  try {
    checkBodyHeaders(header, deps.limits.maxBodyBytes);
  } catch (err) {
    finish(errorAnswer(deps, err, ROUTE_LABEL));
    return;
  }
  readBody((err, body) => {
    if (err) finish(errorAnswer(deps, err, ROUTE_LABEL));
    else answerBody(deps, body!, t0, finish, alloc);
  });
}

/**
 * Answers a request whose body is read (`t0`: when reading began) by
 * calling `done` once. Synchronously unless a tier is remote, so the
 * node:http path needs no promise; then with one promise reaction (each
 * hop is on the request's path). It never throws.
 */
export function answerBody(deps: RouteDeps, bytes: Uint8Array, t0: number, done: (answer: Answer) => void, alloc?: (size: number) => Buffer<ArrayBuffer>): void {
  const state = deps.state.current;
  let pending: ResolvedRequest | Promise<ResolvedRequest>;
  let t1: number;
  try {
    if (!state) throw new LarderError('LARDER_ERR_NOT_READY', `no bundle loaded: ${deps.state.notReadyReason}`);
    const body = parseJson(bytes);
    t1 = performance.now();
    pending = resolveRequest(state.catalog, state.resolver, body, deps.limits.maxEntities);
  } catch (err) {
    done(errorAnswer(deps, err, ROUTE_LABEL));
    return;
  }
  if (pending instanceof Promise) {
    void pending.then(
      (resolved) => done(answerOrError(deps, state, resolved, t0, t1, alloc)),
      (err: unknown) => done(errorAnswer(deps, err, ROUTE_LABEL)),
    );
  } else done(answerOrError(deps, state, pending, t0, t1, alloc));
}

/** answerResolved, or the error answer when writing it throws. */
function answerOrError(deps: RouteDeps, state: ServingState, resolved: ResolvedRequest, t0: number, t1: number, alloc?: (size: number) => Buffer<ArrayBuffer>): Answer {
  try {
    return answerResolved(deps, state, resolved, t0, t1, alloc);
  } catch (err) {
    return errorAnswer(deps, err, ROUTE_LABEL);
  }
}

function answerResolved(deps: RouteDeps, state: ServingState, resolved: ResolvedRequest, t0: number, t1: number, alloc?: (size: number) => Buffer<ArrayBuffer>): Answer {
  const nowMs = deps.now();
  const answer = new AnswerColumns(resolved.plan, resolved.results, nowMs, deps.rule);
  deps.hotKeys?.observe(resolved.plan.views);
  // With the served log on, the response records where its columns are, for the log to copy.
  const spans = deps.tap?.spansFor(answer.count);
  const bytes = feastResponseJson(answer, alloc, spans);
  const t2 = performance.now();
  deps.metrics.countServed(resolved.tierNames, resolved.servedBy, answer.counts);
  // The log line is copied from the response's bytes into a batch that is written to disk later.
  deps.tap?.offer(state, resolved, answer, nowMs, bytes, spans);
  return {
    status: 200,
    headers: {
      'content-type': JSON_TYPE,
      'x-larder-bundle-version': state.versionHeader,
      'x-larder-served-by': servedByHeader(resolved.tierNames, resolved.servedBy),
      'server-timing': `body;dur=${millis(t1 - t0)}, resolve;dur=${millis(t2 - t1)}`,
    },
    body: bytes,
  };
}

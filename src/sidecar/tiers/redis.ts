/**
 * The Redis read-through tier: keys missing from the LRU and the bundle are
 * fetched from Redis, where materialize and push keep every key of every
 * online view.
 *
 * - Batched: one lookup (one view of one request) is one MGET (one per
 *   bucket on a cluster; the client writes a node's MGETs together).
 * - Single-flight: a key already being fetched is not fetched again; later
 *   lookups wait on the same fetch.
 * - Deadline: every fetch answers within `timeoutMs`, with its rows or, past
 *   it, with misses; a late reply is dropped.
 * - Breaker: failures and timeouts in a row open it, and while it is open
 *   lookups are misses at once (synchronously: requests whose other keys
 *   are in the bundle do not wait at all).
 *
 * It never throws and never rejects: every failure is a miss (the value
 * rule's hole), reported through `onFailure` for metrics and the burst log.
 * Redis holds merged winners, so a row found here settles its key, and is
 * worth keeping in the LRU.
 */
import { compareVersions } from '../../core/asof.js';
import { RowValueCodec, RowValueError } from '../../core/bundle/row-value.js';
import type { Row, Tier, ViewSpec } from '../../core/resolve/tier.js';
import { Breaker, type BreakerState } from '../redis/breaker.js';
import type { RedisClient } from '../redis/connection.js';
import { ViewKeys } from '../redis/keys.js';
import { readRowGroups } from '../redis/rows.js';

/**
 * Resolves when the client becomes ready; rejects when its attempt fails.
 * `cancel` (called at the fetch's deadline) removes the listeners, so a
 * connection that never gets ready (a black hole) does not collect them.
 */
function readyOrClosed(client: RedisClient): { ready: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => {
      cancel();
      if (e) reject(e);
      else resolve();
    };
    const onReady = () => done();
    const onClose = () => done(new Error('the connection to Redis closed'));
    cancel = () => {
      client.off('ready', onReady);
      client.off('close', onClose);
    };
    client.once('ready', onReady);
    client.once('close', onClose);
  });
  return { ready, cancel };
}

export type RedisFailure = 'error' | 'timeout' | 'breaker_open' | 'bad_value';

export interface RedisTierOptions {
  client: RedisClient;
  namespace: string;
  /** The served project (from the bundle), or undefined before one is loaded. */
  project: () => string | undefined;
  /** Each fetch answers within this, ms. */
  timeoutMs: number;
  /** Breaker: failures in a row that open it, and how long it stays open, ms. */
  breakerFailures?: number;
  breakerOpenMs?: number;
  /**
   * Pushed rows applied since a fetch was sent (the stream's overlay): a
   * reply is merged with them, newest wins, so a fetch that raced a push
   * cannot put the older row in the LRU.
   */
  newer?: (view: ViewSpec, key: string) => Row | undefined;
  /** Told of each failure: `keys` lookups became misses. */
  onFailure?: (kind: RedisFailure, keys: number, error?: unknown) => void;
  onBreaker?: (state: BreakerState) => void;
  now?: () => number;
}

interface ViewState {
  keys: ViewKeys;
  codec: RowValueCodec;
}

/** One MGET in flight; its promise always resolves within the deadline: rows, or undefined for a failure. */
interface Fetch {
  done: Promise<(Row | undefined)[] | undefined>;
}

export class RedisTier implements Tier {
  readonly name = 'redis';
  readonly settles = true;
  readonly worthCaching = true;
  readonly breaker: Breaker;
  private readonly views = new WeakMap<ViewSpec, ViewState>();
  /** Redis key -> the fetch bringing it and its index there. */
  private readonly inflight = new Map<string, { fetch: Fetch; index: number }>();
  /** Lookups answered, by outcome (keys), for /metrics. */
  readonly counts = { hit: 0, miss: 0, error: 0, timeout: 0, breaker_open: 0, bad_value: 0 };
  fetches = 0;

  constructor(private readonly opts: RedisTierOptions) {
    this.breaker = new Breaker({
      failures: opts.breakerFailures ?? 5,
      openMs: opts.breakerOpenMs ?? 500,
      now: opts.now,
      onChange: opts.onBreaker,
    });
  }

  private viewState(view: ViewSpec): ViewState | undefined {
    let state = this.views.get(view);
    if (!state) {
      const project = this.opts.project();
      if (project === undefined) return undefined;
      const codec = new RowValueCodec(view.features);
      state = { codec, keys: new ViewKeys(this.opts.namespace, project, view.name, codec.fingerprint) };
      this.views.set(view, state);
    }
    return state;
  }

  lookup(view: ViewSpec, keys: readonly string[], ask: readonly number[], found: (Row | undefined)[]): void | Promise<void> {
    const state = this.viewState(view);
    if (!state) return;
    // Keys already on their way join that fetch; the rest go in one new one.
    const waits: { fetch: Fetch; index: number; at: number }[] = [];
    const fresh: number[] = [];
    const freshKeys: string[] = [];
    for (const i of ask) {
      const redisKey = state.keys.key(keys[i]!);
      const flying = this.inflight.get(redisKey);
      if (flying) waits.push({ ...flying, at: i });
      else {
        fresh.push(i);
        freshKeys.push(redisKey);
      }
    }
    if (fresh.length > 0) {
      if (!this.breaker.allow()) {
        this.counts.breaker_open += fresh.length;
        this.opts.onFailure?.('breaker_open', fresh.length);
        if (waits.length === 0) return;
      } else {
        const fetch = this.fetch(view, state, keys, fresh, freshKeys);
        fresh.forEach((i, j) => waits.push({ fetch, index: j, at: i }));
      }
    }
    const fetches = [...new Set(waits.map((w) => w.fetch))];
    return Promise.all(fetches.map((f) => f.done)).then((replies) => {
      for (const w of waits) {
        const rows = replies[fetches.indexOf(w.fetch)];
        const row = rows?.[w.index];
        if (row) found[w.at] = row;
      }
    });
  }

  /**
   * Sends the MGET(s) for `fresh` keys; `done` resolves by the deadline
   * whatever Redis does, with the rows of every group that answered in
   * time. A fetch of which no group answered is a failure (the breaker
   * counts it); one that lost only some groups (a cluster master down) is
   * reported for those keys but does not trip the breaker, so the other
   * masters keep being read.
   */
  private fetch(view: ViewSpec, state: ViewState, keys: readonly string[], fresh: readonly number[], redisKeys: readonly string[]): Fetch {
    this.fetches++;
    const n = fresh.length;
    const values = new Array<Buffer | null | undefined>(n);
    let answered = 0;
    let failedKeys = 0;
    let lastError: unknown;
    let settle!: (rows: (Row | undefined)[] | undefined) => void;
    const fetch: Fetch = { done: new Promise((resolve) => (settle = resolve)) };
    let settled = false;
    let stopWaiting: (() => void) | undefined;
    const finish = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopWaiting?.();
      for (const k of redisKeys) if (this.inflight.get(k)?.fetch === fetch) this.inflight.delete(k);
      const missing = n - answered;
      if (missing > 0) {
        const kind: RedisFailure = timedOut && missing > failedKeys ? 'timeout' : 'error';
        const error = kind === 'timeout' ? new Error(`Redis did not answer within ${this.opts.timeoutMs} ms`) : lastError;
        this.counts[kind] += missing;
        this.opts.onFailure?.(kind, missing, error);
      }
      if (answered === 0) {
        this.breaker.failure();
        settle(undefined);
        return;
      }
      this.breaker.success();
      settle(this.rowsOf(view, state, keys, fresh, values));
    };
    const timer = setTimeout(() => finish(true), this.opts.timeoutMs);
    redisKeys.forEach((k, index) => this.inflight.set(k, { fetch, index }));
    const client = this.opts.client;
    // A connection being made (at start-up, or a reconnection under way) may
    // be ready within the deadline: wait for it rather than fail at once.
    let ready: Promise<void> = Promise.resolve();
    if (client.status === 'connecting' || client.status === 'connect') {
      const wait = readyOrClosed(client);
      stopWaiting = wait.cancel;
      ready = wait.ready;
    }
    void ready.then(
      () => {
        if (settled) return;
        const groups = readRowGroups(client, state.keys, keys, fresh);
        let pending = groups.length;
        for (const group of groups) {
          group.values.then(
            (replies) => {
              if (settled) return;
              group.positions.forEach((p, j) => (values[p] = replies[j] ?? null));
              answered += group.positions.length;
            },
            (e: unknown) => {
              failedKeys += group.positions.length;
              lastError = e;
            },
          ).finally(() => {
            if (--pending === 0) finish(false);
          });
        }
      },
      (e: unknown) => {
        failedKeys = n;
        lastError = e;
        finish(false);
      },
    );
    return fetch;
  }

  /** Decodes a reply; a value that is not a row of the view's layout is a miss, reported. */
  private rowsOf(view: ViewSpec, state: ViewState, keys: readonly string[], fresh: readonly number[], values: readonly (Buffer | null | undefined)[]): (Row | undefined)[] {
    const rows = new Array<Row | undefined>(fresh.length);
    let bad = 0;
    let badError: unknown;
    for (let j = 0; j < fresh.length; j++) {
      const value = values[j];
      const key = keys[fresh[j]!]!;
      let row: Row | undefined;
      if (value) {
        try {
          const decoded = state.codec.decode(value);
          if (decoded.key !== key) throw new RowValueError(`the value under key ${JSON.stringify(key)} holds key ${JSON.stringify(decoded.key)}`);
          row = { eventTsMs: decoded.eventTsMs, createdTsMs: decoded.createdTsMs, values: decoded.values };
        } catch (e) {
          bad++;
          badError = e;
        }
      }
      const pushed = this.opts.newer?.(view, key);
      if (pushed && (row === undefined || compareVersions(pushed, row) > 0)) row = pushed;
      if (row) this.counts.hit++;
      else if (value === null) this.counts.miss++;
      rows[j] = row;
    }
    if (bad > 0) {
      this.counts.bad_value += bad;
      this.opts.onFailure?.('bad_value', bad, new Error(`view "${view.name}": ${bad} value(s) in Redis are not rows of its layout: ${(badError as Error).message}`));
    }
    return rows;
  }
}

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
 *   it, with misses; a late reply is dropped. One timer serves every fetch
 *   in flight (DeadlineList), not one per fetch.
 * - Cheap on the request's path: the MGET is written from lookup itself,
 *   and a reply reaches the lookup's promise through one reaction.
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
import { type DeadlineEntry, DeadlineList } from '../redis/deadlines.js';
import { ViewKeys } from '../redis/keys.js';
import { readRowGroups } from '../redis/rows.js';

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

/**
 * A lookup waiting on fetches (its own, and those it joined): its promise
 * resolves when the last of them has settled and filled its `found`.
 */
class Waiter {
  /** Fetches not settled yet. */
  pending = 0;
  readonly promise: Promise<void>;
  private resolve!: () => void;

  constructor(readonly found: (Row | undefined)[]) {
    this.promise = new Promise((resolve) => (this.resolve = resolve));
  }

  /** One of its fetches settled. */
  done(): void {
    if (--this.pending === 0) this.resolve();
  }
}

/** A later lookup's key that joined a fetch already in flight (single-flight); each join counts once in its waiter. */
interface Join {
  waiter: Waiter;
  /** The key's index in the fetch. */
  index: number;
  /** The key's index in the waiter's `found`. */
  at: number;
}

/** Where an in-flight key is: its fetch, and its index there. */
interface InFlight {
  fetch: Fetch;
  index: number;
}

/**
 * One batch of keys in flight (one MGET, or one per bucket on a cluster):
 * the lookup that sent it (`owner`, whose keys `fresh[j]` it reads) and
 * any that joined it. It settles once, by the last reply or at its
 * deadline, whichever comes first; a late reply is dropped.
 */
class Fetch implements DeadlineEntry {
  deadlineMs = 0;
  prevEntry: DeadlineEntry | undefined = undefined;
  nextEntry: DeadlineEntry | undefined = undefined;
  listed = false;
  settled = false;
  /** Per key: its value (null: Redis holds none), undefined while unanswered. */
  values: (Buffer | null | undefined)[];
  answered = 0;
  failedKeys = 0;
  lastError: unknown = undefined;
  groupsPending = 0;
  joins: Join[] | undefined = undefined;
  /** Stops waiting for the connection to become ready (when it was waited for). */
  stopWaiting: (() => void) | undefined = undefined;

  constructor(
    private readonly tier: RedisTier,
    readonly view: ViewSpec,
    readonly state: ViewState,
    readonly keys: readonly string[],
    readonly fresh: readonly number[],
    readonly redisKeys: readonly string[],
    readonly owner: Waiter,
  ) {
    this.values = new Array<Buffer | null | undefined>(fresh.length);
  }

  expire(): void {
    this.tier.settle(this, true);
  }

  /** Hands each waiter its rows (none for a failed fetch) and tells it this fetch is done. */
  deliver(rows: (Row | undefined)[] | undefined): void {
    const { owner, fresh, joins } = this;
    if (rows !== undefined) {
      const found = owner.found;
      for (let j = 0; j < fresh.length; j++) {
        const row = rows[j];
        if (row !== undefined) found[fresh[j]!] = row;
      }
    }
    if (joins !== undefined) {
      for (const join of joins) {
        const row = rows?.[join.index];
        if (row !== undefined) join.waiter.found[join.at] = row;
        join.waiter.done();
      }
    }
    owner.done();
  }
}

export class RedisTier implements Tier {
  readonly name = 'redis';
  readonly settles = true;
  readonly worthCaching = true;
  readonly breaker: Breaker;
  private readonly views = new WeakMap<ViewSpec, ViewState>();
  /** Redis key -> the fetch bringing it. */
  private readonly inflight = new Map<string, InFlight>();
  /** Every fetch in flight, by deadline: one timer for all of them. */
  private readonly deadlines: DeadlineList;
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
    this.deadlines = new DeadlineList(opts.timeoutMs);
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
    const inflight = this.inflight;
    let waiter: Waiter | undefined;
    let fresh: number[] | undefined;
    let freshKeys: string[] | undefined;
    for (const i of ask) {
      const redisKey = state.keys.key(keys[i]!);
      const flying = inflight.size === 0 ? undefined : inflight.get(redisKey);
      if (flying !== undefined) {
        waiter ??= new Waiter(found);
        waiter.pending++;
        (flying.fetch.joins ??= []).push({ waiter, index: flying.index, at: i });
      } else if (fresh === undefined) {
        fresh = [i];
        freshKeys = [redisKey];
      } else {
        fresh.push(i);
        freshKeys!.push(redisKey);
      }
    }
    if (fresh !== undefined) {
      if (!this.breaker.allow()) {
        this.counts.breaker_open += fresh.length;
        this.opts.onFailure?.('breaker_open', fresh.length);
      } else {
        waiter ??= new Waiter(found);
        waiter.pending++;
        this.fetch(new Fetch(this, view, state, keys, fresh, freshKeys!, waiter));
      }
    }
    return waiter?.promise;
  }

  /**
   * Sends a fetch's MGET(s) at once, or when the connection being made (at
   * start-up, or a reconnection under way) becomes ready: it may be ready
   * within the deadline, so it is waited for rather than failed at once.
   */
  private fetch(fetch: Fetch): void {
    this.fetches++;
    fetch.redisKeys.forEach((k, index) => this.inflight.set(k, { fetch, index }));
    this.deadlines.add(fetch);
    const client = this.opts.client;
    if (client.status !== 'connecting' && client.status !== 'connect') {
      this.send(fetch);
      return;
    }
    const onReady = () => {
      stop();
      if (!fetch.settled) this.send(fetch);
    };
    const onClose = () => {
      stop();
      fetch.failedKeys = fetch.fresh.length;
      fetch.lastError = new Error('the connection to Redis closed');
      this.settle(fetch, false);
    };
    // Removed when the fetch settles, so a connection that never gets ready (a black hole) does not collect them.
    const stop = () => {
      client.off('ready', onReady);
      client.off('close', onClose);
    };
    client.once('ready', onReady);
    client.once('close', onClose);
    fetch.stopWaiting = stop;
  }

  private send(fetch: Fetch): void {
    const groups = readRowGroups(this.opts.client, fetch.state.keys, fetch.keys, fetch.fresh, fetch.redisKeys);
    fetch.groupsPending = groups.length;
    for (const group of groups) {
      group.values.then(
        (replies) => {
          if (fetch.settled) return;
          const positions = group.positions;
          if (positions === undefined) fetch.values = replies;
          else for (let j = 0; j < positions.length; j++) fetch.values[positions[j]!] = replies[j] ?? null;
          fetch.answered += positions === undefined ? fetch.fresh.length : positions.length;
          if (--fetch.groupsPending === 0) this.settle(fetch, false);
        },
        (e: unknown) => {
          if (fetch.settled) return;
          fetch.failedKeys += group.positions?.length ?? fetch.fresh.length;
          fetch.lastError = e;
          if (--fetch.groupsPending === 0) this.settle(fetch, false);
        },
      );
    }
  }

  /**
   * Settles a fetch, once: by its replies, or (`timedOut`) at its deadline
   * with the rows of every group that answered in time. A fetch of which no
   * group answered is a failure (the breaker counts it); one that lost only
   * some groups (a cluster master down) is reported for those keys but does
   * not trip the breaker, so the other masters keep being read.
   */
  // Public for Fetch.expire (the deadline list calls it); not for callers.
  settle(fetch: Fetch, timedOut: boolean): void {
    if (fetch.settled) return;
    fetch.settled = true;
    this.deadlines.remove(fetch);
    fetch.stopWaiting?.();
    const inflight = this.inflight;
    for (const k of fetch.redisKeys) if (inflight.get(k)?.fetch === fetch) inflight.delete(k);
    const missing = fetch.fresh.length - fetch.answered;
    if (missing > 0) {
      const kind: RedisFailure = timedOut && missing > fetch.failedKeys ? 'timeout' : 'error';
      const error = kind === 'timeout' ? new Error(`Redis did not answer within ${this.opts.timeoutMs} ms`) : fetch.lastError;
      this.counts[kind] += missing;
      this.opts.onFailure?.(kind, missing, error);
    }
    if (fetch.answered === 0) {
      this.breaker.failure();
      fetch.deliver(undefined);
      return;
    }
    this.breaker.success();
    fetch.deliver(this.rowsOf(fetch));
  }

  /** Decodes a reply; a value that is not a row of the view's layout is a miss, reported. */
  private rowsOf(fetch: Fetch): (Row | undefined)[] {
    const { view, state, keys, fresh, values } = fetch;
    const newer = this.opts.newer;
    const counts = this.counts;
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
      const pushed = newer?.(view, key);
      if (pushed && (row === undefined || compareVersions(pushed, row) > 0)) row = pushed;
      if (row) counts.hit++;
      else if (value === null) counts.miss++;
      rows[j] = row;
    }
    if (bad > 0) {
      counts.bad_value += bad;
      this.opts.onFailure?.('bad_value', bad, new Error(`view "${view.name}": ${bad} value(s) in Redis are not rows of its layout: ${(badError as Error).message}`));
    }
    return rows;
  }
}


/**
 * Tails the change stream of pushed rows and applies each row above the
 * bundle (PushedRows), so a row pushed through any sidecar or `larder push`
 * is served by every sidecar on that Redis within milliseconds.
 *
 * On start it reads the whole stream (it is bounded), then blocks on XREAD
 * for new entries. Rows pushed before the bundle's as_of are expected in the
 * bundle (a push to offline lands in the data the build reads); rows pushed
 * after it must come from the stream. When the stream has been trimmed past
 * a push this sidecar never read (XINFO STREAM, Redis 7), every view
 * pushed to since the bundle's as_of may miss rows: those views are read
 * through Redis for every key (the bundle does not settle them) until a
 * bundle built after the lost pushes is installed. /metrics lists them.
 *
 * It reads on its own connection (a blocked XREAD would hold up the
 * replies of lookups queued behind it), and never stops on a Redis
 * failure: it retries, and after a reconnection checks again for a gap.
 */
import { RowValueCodec } from '../../core/bundle/row-value.js';
import type { ViewSpec } from '../../core/resolve/tier.js';
import type { LruTier } from '../../core/resolve/tiers/lru.js';
import type { Logger } from '../log.js';
import { type RedisClient, closeRedis } from '../redis/connection.js';
import { pushedKey, streamKey } from '../redis/keys.js';
import type { ServingState, ServingStateHolder } from '../serving-state.js';
import { type PushedEntry, compareIds, idMs, parseEntry } from './entries.js';
import type { PushedRows } from './overlay.js';

export interface StreamConsumerOptions {
  client: RedisClient;
  namespace: string;
  holder: ServingStateHolder;
  overlay: PushedRows;
  lru: LruTier;
  log: Logger;
  /** XREAD BLOCK, ms. */
  blockMs?: number;
  /** Entries read per call. */
  batch?: number;
}

type RawEntry = [id: Buffer | string, fields: Buffer[]];

export class StreamConsumer {
  /** Views whose bundle rows must not settle their keys (read through Redis too); live. */
  readonly unsettled = new Set<string>();
  readonly counts = { applied: 0, stale: 0, skipped: 0, gaps: 0, errors: 0 };
  /** Whether the last call to Redis succeeded. */
  connected = false;
  /** Time (ms) of the newest entry read. */
  lastEntryMs = 0;
  private lastId: string | undefined;
  /** Per view: the latest time a push of it may have been lost (trimmed, or dropped from the overlay), ms. */
  private readonly lostUpTo = new Map<string, number>();
  private project: string | undefined;
  private state: ServingState | undefined;
  private readonly codecs = new WeakMap<ViewSpec, RowValueCodec>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: StreamConsumerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    closeRedis(this.opts.client);
    await this.loop;
  }

  /** A push may have been lost for `view` at `pushedAtMs` (the overlay dropped it). */
  lost(view: string, pushedAtMs: number): void {
    this.lostUpTo.set(view, Math.max(this.lostUpTo.get(view) ?? 0, pushedAtMs));
    this.recomputeUnsettled();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      const state = this.opts.holder.current;
      if (!state) {
        await this.sleep(50);
        continue;
      }
      if (state !== this.state) this.install(state);
      try {
        if (this.lastId === undefined) await this.catchUp('-');
        else await this.tail();
        failures = 0;
        this.connected = true;
      } catch (e) {
        if (!this.running) break;
        this.counts.errors++;
        if (this.connected || failures === 0) this.opts.log.warn(`change stream: ${(e as Error).message}; retrying (pushed rows already read are still served)`);
        this.connected = false;
        failures++;
        // After a failure, read the stream again from where we were, checking for a gap.
        if (this.lastId !== undefined) this.needsGapCheck = true;
        await this.sleep(Math.min(50 * 2 ** failures, 1000));
      }
    }
  }

  private needsGapCheck = false;

  /**
   * A bundle was installed: a new project starts over; rows of views whose
   * definition changed are dropped (entries pushed under the new one keep
   * coming); a new as_of changes which views are trusted.
   */
  private install(state: ServingState): void {
    this.state = state;
    if (state.manifest.project !== this.project) {
      this.project = state.manifest.project;
      this.lastId = undefined;
      this.lostUpTo.clear();
      this.opts.overlay.clear();
    } else {
      this.opts.overlay.retain((name) => {
        const view = state.catalog.views.get(name);
        return view && this.codecOf(view).fingerprint;
      });
    }
    this.recomputeUnsettled();
  }

  private codecOf(view: ViewSpec): RowValueCodec {
    let codec = this.codecs.get(view);
    if (!codec) this.codecs.set(view, (codec = new RowValueCodec(view.features)));
    return codec;
  }

  private recomputeUnsettled(): void {
    const asOfMs = this.state ? Date.parse(this.state.manifest.asOf) : Infinity;
    this.unsettled.clear();
    for (const [view, at] of this.lostUpTo) if (at >= asOfMs) this.unsettled.add(view);
  }

  private get streamKey(): string {
    return streamKey(this.opts.namespace, this.project!);
  }

  /** Reads everything after `from` (exclusive; '-' for the whole stream), then checks for a gap before it. */
  private async catchUp(from: string): Promise<void> {
    const client = this.opts.client;
    const before = this.lastId;
    let start = from === '-' ? '-' : `(${from}`;
    for (;;) {
      const page = (await client.xrangeBuffer(this.streamKey, start, '+', 'COUNT', this.opts.batch ?? 1000)) as unknown as RawEntry[];
      this.applyAll(page);
      if (page.length < (this.opts.batch ?? 1000)) break;
      start = `(${this.lastId}`;
    }
    this.lastId ??= '0-0';
    await this.checkGap(before ?? '0-0');
    this.needsGapCheck = false;
  }

  /** Blocks for new entries; after a failure, catches up first. */
  private async tail(): Promise<void> {
    if (this.needsGapCheck) {
      await this.catchUp(this.lastId!);
      return;
    }
    const reply = (await this.opts.client.xreadBuffer('COUNT', this.opts.batch ?? 1000, 'BLOCK', this.opts.blockMs ?? 500, 'STREAMS', this.streamKey, this.lastId!)) as unknown as [Buffer, RawEntry[]][] | null;
    if (reply) for (const [, entries] of reply) this.applyAll(entries);
  }

  /**
   * Entries the stream no longer holds were trimmed (XADD MAXLEN, XTRIM),
   * all of them older than its first entry. When some were and that first
   * entry is past what this sidecar had read (`seenUpTo`), entries it never
   * read may be among them: each view pushed to since then may miss rows
   * up to the first entry's time.
   */
  private async checkGap(seenUpTo: string): Promise<void> {
    const client = this.opts.client;
    let info: unknown[];
    try {
      info = (await client.xinfo('STREAM', this.streamKey)) as unknown[];
    } catch (e) {
      if (/no such key/i.test((e as Error).message)) return;
      throw e;
    }
    const field = (name: string) => {
      const i = info.findIndex((x) => String(x) === name);
      return i >= 0 ? info[i + 1] : undefined;
    };
    const length = Number(field('length') ?? 0);
    const added = Number(field('entries-added') ?? length);
    if (added <= length) return;
    const first = field('first-entry') as [unknown, unknown] | null | undefined;
    // The newest trimmed entry is older than the first one left (or, with none left, is at most the last id made).
    const bound = first ? String(first[0]) : String(field('last-generated-id') ?? '0-0');
    if (compareIds(bound, seenUpTo) <= 0) return;
    this.counts.gaps++;
    const lastPushes = await client.hgetall(pushedKey(this.opts.namespace, this.project!));
    const views: string[] = [];
    for (const [view, lastPush] of Object.entries(lastPushes)) {
      if (compareIds(lastPush, seenUpTo) <= 0) continue;
      const upTo = Math.min(idMs(bound), idMs(lastPush));
      this.lostUpTo.set(view, Math.max(this.lostUpTo.get(view) ?? 0, upTo));
      views.push(view);
    }
    this.recomputeUnsettled();
    const unsettled = views.filter((v) => this.unsettled.has(v));
    if (unsettled.length > 0) {
      this.opts.log.warn(`change stream: trimmed past pushes this sidecar never read (before ${bound}); reading ${unsettled.map((v) => `"${v}"`).join(', ')} through Redis for every key until a newer bundle`);
    }
  }

  private applyAll(entries: readonly RawEntry[]): void {
    for (const [rawId, fields] of entries) {
      const id = rawId.toString();
      this.lastId = id;
      const entry = parseEntry(fields);
      if (!entry) {
        this.counts.skipped++;
        continue;
      }
      this.apply(entry, idMs(id));
    }
  }

  private apply(entry: PushedEntry, pushedAtMs: number): void {
    this.lastEntryMs = pushedAtMs;
    const view = this.state?.catalog.views.get(entry.view);
    if (!view) {
      this.counts.skipped++;
      return;
    }
    const codec = this.codecOf(view);
    // A row pushed under another definition of the view is not one this bundle can read.
    if (codec.fingerprint !== entry.layout) {
      this.counts.skipped++;
      return;
    }
    let decoded;
    try {
      decoded = codec.decode(entry.value);
    } catch {
      this.counts.skipped++;
      return;
    }
    const row = { eventTsMs: decoded.eventTsMs, createdTsMs: decoded.createdTsMs, values: decoded.values };
    if (this.opts.overlay.apply(entry.view, entry.layout, entry.key, row, pushedAtMs)) {
      // The LRU may hold an older winner read from Redis; the next read merges anew.
      this.opts.lru.forget(entry.view, entry.key);
      this.counts.applied++;
    } else this.counts.stale++;
  }
}

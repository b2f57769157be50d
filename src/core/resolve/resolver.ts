/**
 * The resolver: walks the tiers for each view of a request and keeps, per
 * key, the newest row any asked tier held (compareVersions: the as-of
 * rule's ordering; on a tie the earlier tier's row stays). It stays
 * synchronous while every tier answers synchronously (the in-process API
 * and the LRU + bundle path), and becomes a promise only when one does not.
 */
import { compareVersions } from '../asof.js';
import { LarderError } from '../errors.js';
import { DEFAULT_TIER_NAME, type Row, type Tier, type ViewSpec } from './tier.js';

export interface ViewResult {
  rows: (Row | undefined)[];
  /** Per key: the index of the tier whose row won, or `tiers.length` ('default') when none held it. */
  servedBy: Uint8Array;
}

export interface ResolverOptions {
  /** Called when a tier throws, rejects or passes its deadline; its keys were treated as misses. */
  onTierError?: (tier: Tier, error: unknown) => void;
}

/** Why a tier's answer was not used: it passed its deadline. */
const tierTimeout = (tier: string, deadlineMs: number) =>
  new LarderError('LARDER_ERR_TIER_TIMEOUT', `tier "${tier}" did not answer within ${deadlineMs} ms; its keys were answered as misses`);

export class Resolver {
  /** The tiers' names in order, then 'default': index i names servedBy value i. */
  readonly tierNames: readonly string[];
  private readonly onTierError: (tier: Tier, error: unknown) => void;
  /** Whether any tier's rows are offered to the tiers above it (decided once). */
  private readonly anyWorthCaching: boolean;

  constructor(readonly tiers: readonly Tier[], opts: ResolverOptions = {}) {
    const names = tiers.map((t) => t.name);
    for (const [i, name] of names.entries()) {
      if (name === DEFAULT_TIER_NAME || names.indexOf(name) !== i) {
        throw new LarderError('LARDER_ERR_CONFIG', `tier names must be unique and not "${DEFAULT_TIER_NAME}": got ${names.join(', ')}`);
      }
    }
    if (tiers.length > 254) throw new LarderError('LARDER_ERR_CONFIG', `at most 254 tiers, got ${tiers.length}`);
    this.tierNames = [...names, DEFAULT_TIER_NAME];
    this.onTierError = opts.onTierError ?? (() => {});
    this.anyWorthCaching = tiers.some((t) => t.worthCaching);
  }

  resolve(view: ViewSpec, keys: readonly string[]): ViewResult | Promise<ViewResult> {
    const n = keys.length;
    const result: ViewResult = { rows: new Array<Row | undefined>(n), servedBy: new Uint8Array(n).fill(this.tiers.length) };
    const open: number[] = new Array<number>(n);
    for (let i = 0; i < n; i++) open[i] = i;
    return this.walk(0, view, keys, open, result, new Array<Row | undefined>(n));
  }

  /**
   * Asks tiers t.. for the keys still open. `found` is the tiers' scratch
   * array; a tier that answers with a promise keeps its own (a late answer
   * must not write into a later tier's), and the walk goes on with a new one.
   */
  private walk(t: number, view: ViewSpec, keys: readonly string[], open: number[], result: ViewResult, found: (Row | undefined)[]): ViewResult | Promise<ViewResult> {
    for (; t < this.tiers.length && open.length > 0; t++) {
      const tier = this.tiers[t]!;
      for (const i of open) found[i] = undefined;
      let pending: void | Promise<void>;
      try {
        pending = tier.lookup(view, keys, open, found);
      } catch (e) {
        this.onTierError(tier, e);
        continue;
      }
      if (pending) {
        const at = t;
        const asked = open;
        const next = (ok: boolean) => {
          const still = ok ? this.merge(at, view, asked, result, found) : asked;
          return this.walk(at + 1, view, keys, still, result, new Array<Row | undefined>(keys.length));
        };
        // A tier that keeps its own deadline (Redis) is awaited with one reaction, not two: every hop is on the request's path.
        if (tier.deadlineMs === undefined) {
          return pending.then(
            () => next(true),
            (e: unknown) => {
              this.onTierError(tier, e);
              return next(false);
            },
          );
        }
        return this.await(tier, pending, tier.deadlineMs).then(next);
      }
      open = this.merge(t, view, open, result, found);
    }
    this.offerToCaches(view, keys, result);
    return result;
  }

  /** Resolves true when the tier answered within `deadlineMs`, false (reported) when it failed or timed out. */
  private await(tier: Tier, pending: Promise<void>, deadlineMs: number): Promise<boolean> {
    const answered = pending.then(
      () => true,
      (e: unknown) => {
        this.onTierError(tier, e);
        return false;
      },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.onTierError(tier, tierTimeout(tier.name, deadlineMs));
        resolve(false);
      }, deadlineMs);
    });
    return Promise.race([answered, late]).finally(() => clearTimeout(timer));
  }

  /** Keeps the newer of each found row and the row held so far; returns the keys still open. */
  private merge(t: number, view: ViewSpec, open: readonly number[], result: ViewResult, found: readonly (Row | undefined)[]): number[] {
    const tier = this.tiers[t]!;
    const settles = tier.settlesView ? tier.settlesView(view) : tier.settles;
    const still: number[] = [];
    for (const i of open) {
      const row = found[i];
      if (row !== undefined) {
        const held = result.rows[i];
        if (held === undefined || compareVersions(row, held) > 0) {
          result.rows[i] = row;
          result.servedBy[i] = t;
        }
        if (settles) continue;
      }
      still.push(i);
    }
    return still;
  }

  /** Offers each winner from a tier worth caching to the tiers above it. */
  private offerToCaches(view: ViewSpec, keys: readonly string[], result: ViewResult): void {
    if (!this.anyWorthCaching) return;
    const tiers = this.tiers;
    for (let i = 0; i < keys.length; i++) {
      const t = result.servedBy[i]!;
      if (t === tiers.length || !tiers[t]!.worthCaching) continue;
      for (let u = 0; u < t; u++) tiers[u]!.remember?.(view, keys[i]!, result.rows[i]!);
    }
  }
}

/**
 * The resolver: walks the tiers for each view of a request. It stays
 * synchronous while every tier answers synchronously (the in-process API and
 * the LRU + bundle path), and becomes a promise only when a remote tier does.
 */
import type { Row, Tier, TierName, ViewSpec } from './tier.js';

export interface ViewResult {
  rows: (Row | undefined)[];
  /** Per key: the tier that answered, or 'default' when none did. */
  servedBy: TierName[];
}

export class Resolver {
  constructor(readonly tiers: readonly Tier[]) {}

  resolve(view: ViewSpec, keys: readonly string[]): ViewResult | Promise<ViewResult> {
    const result: ViewResult = {
      rows: new Array<Row | undefined>(keys.length),
      servedBy: new Array<TierName>(keys.length).fill('default'),
    };
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) missing.push(i);
    return this.walk(0, view, keys, missing, result);
  }

  private walk(t: number, view: ViewSpec, keys: readonly string[], missing: number[], result: ViewResult): ViewResult | Promise<ViewResult> {
    for (; t < this.tiers.length && missing.length > 0; t++) {
      const pending = this.tiers[t]!.lookup(view, keys, missing, result.rows);
      if (pending) {
        const at = t;
        return pending.then(() => this.walk(at + 1, view, keys, this.settle(at, view, keys, missing, result), result));
      }
      missing = this.settle(t, view, keys, missing, result);
    }
    return result;
  }

  /** Marks what tier t found, offers it to the tiers above, returns what is still missing. */
  private settle(t: number, view: ViewSpec, keys: readonly string[], missing: number[], result: ViewResult): number[] {
    const tier = this.tiers[t]!;
    const still: number[] = [];
    for (const i of missing) {
      const row = result.rows[i];
      if (row === undefined) {
        still.push(i);
        continue;
      }
      result.servedBy[i] = tier.name;
      if (tier.worthCaching) for (let u = 0; u < t; u++) this.tiers[u]!.remember?.(view, keys[i]!, row);
    }
    return still;
  }
}

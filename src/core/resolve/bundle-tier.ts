/** The bundle tier: rows the open bundle holds, read synchronously. */
import type { Bundle } from '../bundle/bundle.js';
import type { Row, Tier, ViewSpec } from './tier.js';

export class BundleTier implements Tier {
  readonly name = 'bundle' as const;
  readonly worthCaching = false;
  constructor(readonly bundle: Bundle) {}

  lookup(view: ViewSpec, keys: readonly string[], missing: readonly number[], found: (Row | undefined)[]): void {
    const bv = this.bundle.view(view.name);
    if (!bv) return;
    for (const i of missing) {
      const row = bv.rowOf(keys[i]!);
      if (row >= 0) found[i] = bv.row(row);
    }
  }
}

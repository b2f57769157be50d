/** The bundle tier: rows the open bundle holds, read synchronously, as references (BundleRow) whose values are read when answered. */
import type { Bundle } from '../bundle/bundle.js';
import type { Row, Tier, ViewSpec } from './tier.js';

export class BundleTier implements Tier {
  readonly name = 'bundle' as const;
  readonly worthCaching = false;
  constructor(readonly bundle: Bundle) {}

  /** The rows found for the keys of one lookup, reused: lookups are synchronous. */
  private rows = new Int32Array(16);

  lookup(view: ViewSpec, keys: readonly string[], missing: readonly number[], found: (Row | undefined)[]): void {
    const bv = this.bundle.view(view.name);
    if (!bv) return;
    if (this.rows.length < missing.length) this.rows = new Int32Array(missing.length);
    const rows = this.rows;
    bv.keys.rowsOf(keys, missing, rows);
    for (let j = 0; j < missing.length; j++) {
      const row = rows[j]!;
      if (row >= 0) found[missing[j]!] = bv.lazyRow(row);
    }
  }
}

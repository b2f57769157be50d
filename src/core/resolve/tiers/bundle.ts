/**
 * The bundle tier: rows the open bundle holds, read synchronously, as
 * references (BundleRow) whose features an answer reads straight from the
 * records. The bundle is the complete as-of snapshot of its keys, so a key
 * found here settles; newer rows reach the answer from tiers above it
 * (pushed changes), which do not settle.
 */
import type { BundleData, BundleView } from '../../bundle/bundle.js';
import { BUNDLE_TIER_NAME, type Row, type Tier, type ViewSpec } from '../tier.js';

/**
 * A row the bundle holds, by reference. An answer reads just the features
 * it asks for, straight from the records (Row.columns); decoding every
 * value of a 50-feature row into an array made about 1 KB of garbage a
 * row, which drove the sidecar's young-generation collections under wide
 * requests. `values` decodes the whole row on first use, for readers that
 * want it (caches, the in-process `get`).
 */
export class BundleRow implements Row {
  private decoded: readonly unknown[] | undefined;

  constructor(
    readonly columns: BundleView,
    /** The row's index in the view's records. */
    readonly record: number,
    readonly eventTsMs: number,
    readonly createdTsMs: number | null,
  ) {}

  get values(): readonly unknown[] {
    return (this.decoded ??= this.columns.values(this.record));
  }
}

export class BundleTier implements Tier {
  readonly name = BUNDLE_TIER_NAME;
  readonly settles = true;
  readonly worthCaching = false;
  readonly settlesView?: (view: ViewSpec) => boolean;

  /**
   * `unsettled` (live: it may change while serving) names views whose keys
   * this bundle must not settle: pushed rows for them may be missing above
   * it, so the tiers after it are asked too.
   */
  constructor(readonly bundle: BundleData, unsettled?: { has(view: string): boolean }) {
    if (unsettled) this.settlesView = (view) => !unsettled.has(view.name);
  }

  /** The records found for the keys of one lookup, reused: lookups are synchronous. */
  private records = new Int32Array(16);

  lookup(view: ViewSpec, keys: readonly string[], ask: readonly number[], found: (Row | undefined)[]): void {
    const bv = this.bundle.view(view.name);
    if (!bv) return;
    if (this.records.length < ask.length) this.records = new Int32Array(ask.length);
    const records = this.records;
    bv.keys.rowsOf(keys, ask, records);
    for (let j = 0; j < ask.length; j++) {
      const record = records[j]!;
      if (record >= 0) found[ask[j]!] = new BundleRow(bv, record, bv.eventTsMs(record), bv.createdTsMs(record));
    }
  }
}

/** A bundle row by reference, apart from BundleView so that answer code can recognize one without importing the bundle. */
import type { Row } from '../resolve/tier.js';
import type { BundleView } from './bundle.js';

/**
 * A row the bundle holds, by reference: what the bundle tier answers. An
 * answer reads just the features it asks for, straight from the records
 * (BundleView.readNumbers, readValues); decoding every value of a 50-feature
 * row into an array made about 1 KB of garbage a row, which drove the
 * sidecar's young-generation collections under wide requests. `values`
 * decodes the whole row on first use, for readers that want it.
 */
export class BundleRow implements Row {
  private decoded: readonly unknown[] | undefined;

  constructor(
    readonly view: BundleView,
    /** The row's index in the view's records. */
    readonly record: number,
    readonly eventTsMs: number,
  ) {}

  get values(): readonly unknown[] {
    return (this.decoded ??= this.view.row(this.record).values);
  }
}

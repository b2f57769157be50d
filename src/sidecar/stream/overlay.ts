/**
 * Pushed rows over the bundle: the newest pushed row of each (view, key)
 * this sidecar has read from the change stream. A tier before the bundle
 * that does not settle its keys, so the bundle (and Redis) are asked too and
 * the newest row by the as-of rule wins: an older pushed row never hides a
 * newer bundle row, and an older bundle row never hides a newer push.
 *
 * Bounded: past `maxKeys` the row pushed longest ago is dropped, and its
 * view reported (`onDrop`), since a bundle older than that push may now
 * miss it.
 */
import { compareVersions } from '../../core/asof.js';
import { RowValueCodec } from '../../core/bundle/row-value.js';
import type { Row, Tier, ViewSpec } from '../../core/resolve/tier.js';

interface Entry {
  view: string;
  /** The row layout it was decoded with (RowValueCodec.fingerprint). */
  layout: string;
  row: Row;
  /** When it was pushed: its stream entry's time, epoch ms (Redis's clock). */
  pushedAtMs: number;
}

const SEP = '\u0000';

export class PushedRows implements Tier {
  readonly name = 'pushed';
  readonly settles = false;
  readonly worthCaching = false;
  /** view \0 key -> entry, in push order (a newer push moves its key to the end). */
  private readonly entries = new Map<string, Entry>();
  /** Views with at least one row, so lookups of other views cost nothing. */
  private readonly viewsHeld = new Map<string, number>();
  private readonly layouts = new WeakMap<ViewSpec, string>();

  constructor(
    private readonly maxKeys: number,
    private readonly onDrop?: (view: string, pushedAtMs: number) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  lookup(view: ViewSpec, keys: readonly string[], ask: readonly number[], found: (Row | undefined)[]): void {
    if (!this.viewsHeld.has(view.name)) return;
    const prefix = view.name + SEP;
    const layout = this.layoutOf(view);
    for (const i of ask) {
      const entry = this.entries.get(prefix + keys[i]);
      if (entry && entry.layout === layout) found[i] = entry.row;
    }
  }

  /** The pushed row of a key, if any (and decoded with the view's current layout). */
  get(view: ViewSpec, key: string): Row | undefined {
    if (!this.viewsHeld.has(view.name)) return undefined;
    const entry = this.entries.get(view.name + SEP + key);
    return entry && entry.layout === this.layoutOf(view) ? entry.row : undefined;
  }

  /** A served view's row layout: rows decoded with another (an older definition) are not its rows. */
  private layoutOf(view: ViewSpec): string {
    let layout = this.layouts.get(view);
    if (layout === undefined) this.layouts.set(view, (layout = new RowValueCodec(view.features).fingerprint));
    return layout;
  }

  /** Keeps `row` unless the key holds a newer pushed row. Returns whether it was kept. */
  apply(view: string, layout: string, key: string, row: Row, pushedAtMs: number): boolean {
    const id = view + SEP + key;
    const held = this.entries.get(id);
    if (held && compareVersions(row, held.row) < 0) return false;
    if (held) this.entries.delete(id);
    else this.viewsHeld.set(view, (this.viewsHeld.get(view) ?? 0) + 1);
    this.entries.set(id, { view, layout, row, pushedAtMs });
    while (this.entries.size > this.maxKeys) {
      const [oldestId, oldest] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldestId);
      this.release(oldest.view);
      this.onDrop?.(oldest.view, oldest.pushedAtMs);
    }
    return true;
  }

  /**
   * Keeps only rows whose view still has the layout they were decoded with
   * (`layoutOf(view)`; undefined: the view is no longer served): after a new
   * bundle changes a view's features, its old rows cannot be read by it.
   */
  retain(layoutOf: (view: string) => string | undefined): void {
    for (const [id, entry] of this.entries) {
      if (layoutOf(entry.view) === entry.layout) continue;
      this.entries.delete(id);
      this.release(entry.view);
    }
  }

  clear(): void {
    this.entries.clear();
    this.viewsHeld.clear();
  }

  private release(view: string): void {
    const n = (this.viewsHeld.get(view) ?? 1) - 1;
    if (n === 0) this.viewsHeld.delete(view);
    else this.viewsHeld.set(view, n);
  }
}

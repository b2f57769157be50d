/**
 * Which keys traffic asks for, per view, in bounded memory: the "Frequent"
 * (Misra-Gries) sketch, at most `capacity` counters per view. A key asked
 * for more than 1/capacity of a view's lookups is always held; counts are
 * lower bounds (each eviction round takes one from every counter), which
 * keeps the order of heavy keys. Each lookup costs one Map update,
 * amortized: a round that decrements every counter removes at least the
 * smallest, and the rounds' total work is bounded by the lookups counted.
 *
 * GET /hot-keys?view=<name>&limit=<n>[&format=csv] answers the top keys;
 * the CSV form is the hot keys file `larder build --hot-keys` reads (a
 * header naming the view's join keys, then key parts and a count), so
 * `--hot-keys http://sidecar:6566/hot-keys?view=...&format=csv` closes the
 * loop: the next bundle holds the keys traffic reads. With --hot-keys-out
 * the sidecar also writes these files itself (hot-keys-file.ts).
 */
import type { Context, Hono } from 'hono';
import { LarderError, quoteInput } from '../../core/errors.js';
import { KEY_SEPARATOR } from '../../core/keys.js';
import type { ServingStateHolder } from '../serving-state.js';
import type { Measured } from './admin.js';

export const HOT_KEYS_ROUTE = '/hot-keys';

class FrequentSketch {
  readonly counts = new Map<string, number>();
  observed = 0;
  constructor(private readonly capacity: number) {}

  add(key: string): void {
    this.observed++;
    const c = this.counts.get(key);
    if (c !== undefined) {
      this.counts.set(key, c + 1);
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(key, 1);
      return;
    }
    // Full: the new key's one lookup and one from every counter cancel out.
    for (const [k, n] of this.counts) {
      if (n <= 1) this.counts.delete(k);
      else this.counts.set(k, n - 1);
    }
  }

  top(limit: number): { key: string; count: number }[] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([key, count]) => ({ key, count }));
  }
}

export class HotKeyCounter {
  private readonly views = new Map<string, FrequentSketch>();
  /** Counters per view; 0 turns counting off. */
  constructor(readonly capacity: number) {}

  /** Counts one request's lookups (from the online route). */
  observe(views: readonly { view: { name: string }; keys: readonly string[] }[]): void {
    if (this.capacity === 0) return;
    for (const { view, keys } of views) {
      let sketch = this.views.get(view.name);
      if (!sketch) this.views.set(view.name, (sketch = new FrequentSketch(this.capacity)));
      for (const key of keys) sketch.add(key);
    }
  }

  top(view: string, limit: number): { key: string; count: number }[] {
    return this.views.get(view)?.top(limit) ?? [];
  }

  observed(view: string): number {
    return this.views.get(view)?.observed ?? 0;
  }
}

/** A CSV field, quoted when it holds a comma, quote or line break (hot-keys.ts's reader unquotes it). */
const csvField = (s: string) => (/[",\r\n]/.test(s) || s.trim() !== s ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * The hot keys file `larder build --hot-keys` reads: a header naming the
 * view's join key columns and `count`, then one line per key, most asked first.
 */
export function hotKeysCsv(joinKeys: readonly string[], top: readonly { key: string; count: number }[]): string {
  const lines = [[...joinKeys, 'count'].map(csvField).join(',')];
  for (const t of top) lines.push([...t.key.split(KEY_SEPARATOR).map(csvField), String(t.count)].join(','));
  return lines.join('\n') + '\n';
}

export function mountHotKeys(app: Hono, measured: Measured, counter: HotKeyCounter, holder: ServingStateHolder): void {
  app.get(HOT_KEYS_ROUTE, measured(HOT_KEYS_ROUTE, (c: Context) => {
    const state = holder.current;
    if (!state) throw new LarderError('LARDER_ERR_NOT_READY', `no bundle loaded: ${holder.notReadyReason}`);
    const views = state.manifest.views.map((v) => v.name);
    const viewName = c.req.query('view');
    if (viewName === undefined || viewName === '') throw new LarderError('LARDER_ERR_BAD_REQUEST', `the query needs view=<feature view> (views: ${views.join(', ')})`);
    const view = state.manifest.views.find((v) => v.name === viewName);
    if (!view) throw new LarderError('LARDER_ERR_UNKNOWN_VIEW', `unknown feature view ${quoteInput(viewName)} (views: ${views.join(', ')})`);
    const limitText = c.req.query('limit') ?? String(counter.capacity);
    const limit = /^\d{1,9}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1)) throw new LarderError('LARDER_ERR_BAD_REQUEST', `limit must be an integer >= 1, got ${quoteInput(limitText)}`);
    const format = c.req.query('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new LarderError('LARDER_ERR_BAD_REQUEST', `format must be json or csv, got ${quoteInput(format)}`);
    const top = counter.top(viewName, limit);
    c.header('x-larder-bundle-version', state.versionHeader);
    if (format === 'json') {
      return c.json({ view: viewName, joinKeys: view.joinKeys.map((k) => k.name), capacity: counter.capacity, observed: counter.observed(viewName), keys: top.map((t) => ({ key: t.key.split(KEY_SEPARATOR), count: t.count })) });
    }
    c.header('content-type', 'text/csv; charset=utf-8');
    return c.body(hotKeysCsv(view.joinKeys.map((k) => k.name), top));
  }));
}

/**
 * The LRU tier: winning rows recently fetched from a remote tier (Redis),
 * bounded by an estimate of their bytes. It holds merged winners, so a hit
 * settles its key. It holds rows of one bundle generation; whoever swaps
 * the bundle clears it.
 */
import { LRUCache } from 'lru-cache';
import type { Row, Tier, ViewSpec } from '../tier.js';

/** Rough heap bytes of a row, so the cache bound tracks real memory. */
export function estimateRowBytes(key: string, row: Row): number {
  let bytes = 64 + key.length * 2 + row.values.length * 16;
  for (const v of row.values) {
    if (typeof v === 'string') bytes += v.length * 2;
    else if (Array.isArray(v)) bytes += 16 + v.length * 16;
  }
  return bytes;
}

export class LruTier implements Tier {
  readonly name = 'lru';
  readonly settles = true;
  readonly worthCaching = false;
  private readonly cache: LRUCache<string, Row>;
  private hits = 0;
  private misses = 0;

  /**
   * `ttlMs` > 0 bounds how long a row is kept (rows of a shared remote
   * store, Redis, go stale there when other writers change it).
   */
  constructor(readonly maxBytes: number, readonly ttlMs = 0) {
    this.cache = new LRUCache<string, Row>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (row, key) => estimateRowBytes(key, row),
      ...(ttlMs > 0 ? { ttl: ttlMs } : {}),
    });
  }

  lookup(view: ViewSpec, keys: readonly string[], ask: readonly number[], found: (Row | undefined)[]): void {
    // An empty cache (--cache-max-bytes 0, or nothing read from Redis yet,
    // as while the bundle holds every key asked) misses without a search:
    // a search is a key concatenation, a hash and a map probe per key.
    if (this.cache.size === 0) {
      this.misses += ask.length;
      return;
    }
    const prefix = view.name + '\u0000';
    for (const i of ask) {
      const row = this.cache.get(prefix + keys[i]);
      if (row) {
        found[i] = row;
        this.hits++;
      } else this.misses++;
    }
  }

  remember(view: ViewSpec, key: string, row: Row): void {
    if (this.maxBytes > 0) this.cache.set(view.name + '\u0000' + key, row);
  }

  /** Drops one key's row (a newer row was pushed for it). */
  forget(view: string, key: string): void {
    this.cache.delete(view + '\u0000' + key);
  }

  clear(): void {
    this.cache.clear();
  }

  stats(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize, hits: this.hits, misses: this.misses };
  }
}

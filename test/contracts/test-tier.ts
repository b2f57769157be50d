/**
 * A tier for tests of the seam: it holds rows in a map and can answer
 * synchronously, after a delay, by failing (throw or reject), or never (to
 * pass a deadline). It is what the Redis tier will look like from the
 * resolver's side, so the promise path, failures becoming misses and
 * newest-wins merging are tested before Redis exists.
 */
import type { Row, Tier, ViewSpec } from '../../src/core/resolve/tier.js';

export type TestTierMode =
  | { kind: 'sync' }
  | { kind: 'delayed'; ms: number }
  | { kind: 'throws' }
  | { kind: 'rejects'; ms: number }
  | { kind: 'hangs' };

export interface TestTierOptions {
  name?: string;
  settles?: boolean;
  worthCaching?: boolean;
  deadlineMs?: number;
  mode?: TestTierMode;
}

export class TestTier implements Tier {
  readonly name: string;
  readonly settles: boolean;
  readonly worthCaching: boolean;
  readonly deadlineMs: number | undefined;
  mode: TestTierMode;
  /** Every key asked for, in order, as `view/key`. */
  readonly asked: string[] = [];
  /** Rows remembered from tiers after this one. */
  readonly remembered = new Map<string, Row>();
  /** Writes made into `found` after the lookup was answered (a late answer): none may reach an answer. */
  lateWrites = 0;

  constructor(
    private readonly rows: Map<string, Row>,
    opts: TestTierOptions = {},
  ) {
    this.name = opts.name ?? 'test';
    this.settles = opts.settles ?? true;
    this.worthCaching = opts.worthCaching ?? false;
    this.deadlineMs = opts.deadlineMs;
    this.mode = opts.mode ?? { kind: 'sync' };
  }

  static key(view: string, key: string): string {
    return `${view}/${key}`;
  }

  private fill(view: ViewSpec, keys: readonly string[], ask: readonly number[], found: (Row | undefined)[]): void {
    for (const i of ask) {
      const row = this.rows.get(TestTier.key(view.name, keys[i]!));
      if (row) found[i] = row;
    }
  }

  lookup(view: ViewSpec, keys: readonly string[], ask: readonly number[], found: (Row | undefined)[]): void | Promise<void> {
    for (const i of ask) this.asked.push(TestTier.key(view.name, keys[i]!));
    const mode = this.mode;
    switch (mode.kind) {
      case 'sync':
        this.fill(view, keys, ask, found);
        return;
      case 'delayed':
        return new Promise((resolve) => setTimeout(() => {
          this.fill(view, keys, ask, found);
          resolve();
        }, mode.ms));
      case 'throws':
        throw new Error(`${this.name} exploded`);
      case 'rejects':
        return new Promise((_, reject) => setTimeout(() => reject(new Error(`${this.name} failed`)), mode.ms));
      case 'hangs':
        // Answers long after any deadline: its rows must never reach an answer.
        return new Promise((resolve) => setTimeout(() => {
          this.fill(view, keys, ask, found);
          this.lateWrites++;
          resolve();
        }, 1_000));
    }
  }

  remember(view: ViewSpec, key: string, row: Row): void {
    this.remembered.set(TestTier.key(view.name, key), row);
  }
}

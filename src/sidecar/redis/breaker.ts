/**
 * A circuit breaker for a remote tier. Closed, calls go through; after
 * `failures` failures in a row it opens and calls are refused at once (a
 * miss, no waiting) for `openMs`; then one probe call is let through
 * (half-open): its success closes the breaker, its failure opens it again.
 * One probe at a time is what keeps a returning Redis from a request storm.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Failures in a row that open the breaker. */
  failures: number;
  /** How long it stays open before a probe, ms. */
  openMs: number;
  now?: () => number;
  /** Told of every change of state. */
  onChange?: (state: BreakerState) => void;
}

export class Breaker {
  private stateNow: BreakerState = 'closed';
  private failuresInRow = 0;
  private openUntil = 0;
  private probing = false;
  /** How many times it has opened. */
  opened = 0;
  private readonly now: () => number;

  constructor(private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.stateNow;
  }

  /** Whether a call may go out now; a half-open breaker lets exactly one through until it reports. */
  allow(): boolean {
    if (this.stateNow === 'closed') return true;
    if (this.stateNow === 'open') {
      if (this.now() < this.openUntil) return false;
      this.set('half-open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failuresInRow = 0;
    this.probing = false;
    if (this.stateNow !== 'closed') this.set('closed');
  }

  failure(): void {
    this.failuresInRow++;
    this.probing = false;
    if (this.stateNow === 'half-open' || (this.stateNow === 'closed' && this.failuresInRow >= this.opts.failures)) {
      this.openUntil = this.now() + this.opts.openMs;
      this.opened++;
      this.set('open');
    }
  }

  private set(state: BreakerState): void {
    this.stateNow = state;
    this.opts.onChange?.(state);
  }
}

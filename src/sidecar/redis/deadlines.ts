/**
 * Deadlines of one fixed length for many things in flight, with one timer
 * for all of them instead of one per thing. A setTimeout and clearTimeout
 * per Redis fetch cost about as much as the rest of the tier's bookkeeping
 * of a fetch (measured: ~0.7 µs a pair in a tight loop, more in a request);
 * here adding and removing a thing is a few pointer writes.
 *
 * Every deadline is `timeoutMs` after its add, so the things are added in
 * deadline order: a doubly linked list, oldest first, is the queue, and the
 * one timer waits for its head. A thing removed before its deadline is
 * unlinked at once (garbage while young); the timer, when it fires, expires
 * every head whose deadline passed and waits for the next one. Each expires
 * at its own deadline (to the timer's 1 ms), never earlier.
 */

/** What the list holds; the links are the list's own (one list per thing). */
export interface DeadlineEntry {
  /** When it expires, ms on performance.now()'s clock. */
  deadlineMs: number;
  prevEntry: DeadlineEntry | undefined;
  nextEntry: DeadlineEntry | undefined;
  /** Whether it is in the list. */
  listed: boolean;
  /** Called once, at the deadline, for an entry still listed (already unlinked). */
  expire(): void;
}

export class DeadlineList {
  private head: DeadlineEntry | undefined;
  private tail: DeadlineEntry | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Lists `entry` with the deadline `timeoutMs` from now. */
  add(entry: DeadlineEntry): void {
    entry.deadlineMs = performance.now() + this.timeoutMs;
    entry.nextEntry = undefined;
    entry.prevEntry = this.tail;
    if (this.tail) this.tail.nextEntry = entry;
    else this.head = entry;
    this.tail = entry;
    entry.listed = true;
    if (this.timer === undefined) this.arm(this.timeoutMs);
  }

  /** Unlists `entry` (no-op when it is not listed). The timer stays: it finds the next head when it fires. */
  remove(entry: DeadlineEntry): void {
    if (!entry.listed) return;
    entry.listed = false;
    const { prevEntry, nextEntry } = entry;
    if (prevEntry) prevEntry.nextEntry = nextEntry;
    else this.head = nextEntry;
    if (nextEntry) nextEntry.prevEntry = prevEntry;
    else this.tail = prevEntry;
    entry.prevEntry = entry.nextEntry = undefined;
  }

  private arm(ms: number): void {
    // Unref'd: a deadline alone never keeps the process alive (its fetch holds a socket that does).
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(ms))).unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    for (let entry = this.head; entry !== undefined && entry.deadlineMs <= now; entry = this.head) {
      this.remove(entry);
      entry.expire();
    }
    // An expire() may have added entries (and armed the timer).
    if (this.head !== undefined && this.timer === undefined) this.arm(this.head.deadlineMs - now);
  };
}

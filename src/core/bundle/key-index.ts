/**
 * The entity-key index of one view: an open-addressing hash table (linear
 * probing, load <= 0.5) over the canonical key strings, stored in the bundle
 * so that opening builds nothing. A slot holds row + 1; the row record holds
 * a short key's bytes itself and a longer key's place in the heap, so a probe
 * reads one slot and one record (and, for long keys, the key bytes).
 */
import { hashKey } from '../keys.js';
import { INLINE_KEY_BYTES } from './rows.js';
import { utf8Equals } from './utf8.js';

function tableSize(n: number): number {
  let size = 2;
  while (size < n * 2) size *= 2;
  return size;
}

/** Builds the slot table; `keys` must be unique (the builder's snapshot makes them so). */
export function buildSlots(keys: readonly string[]): Int32Array {
  const slots = new Int32Array(tableSize(keys.length));
  const mask = slots.length - 1;
  for (let row = 0; row < keys.length; row++) {
    let i = hashKey(keys[row]!) & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = row + 1;
  }
  return slots;
}

export class KeyIndex {
  private readonly mask: number;
  private readonly u32: Uint32Array;
  private readonly stride4: number;
  /** Each key's first slot, for rowsOf; reused, as lookups are synchronous. */
  private starts = new Int32Array(16);
  /** What rowsOf's warming loads read, kept so that they are not dropped as unused. */
  private touched = 0;

  constructor(
    private readonly slots: Int32Array,
    private readonly records: Uint8Array,
    stride: number,
    private readonly heap: Uint8Array,
    readonly size: number,
  ) {
    this.mask = slots.length - 1;
    this.u32 = new Uint32Array(records.buffer, records.byteOffset, records.byteLength / 4);
    this.stride4 = stride / 4;
  }

  /** The row of `key`, or -1. */
  rowOf(key: string): number {
    return this.probe(key, hashKey(key) & this.mask);
  }

  /**
   * rowOf for keys[indices[j]] into rows[j], for many keys at once. Over a
   * large bundle each probe misses the cache twice (slot, then record);
   * probed one after another those misses queue behind each other. Here
   * every key's first slot is read first, then each slot's record, loads
   * that do not depend on each other so the CPU overlaps their misses, and
   * the probes then mostly hit the cache; last, every cache line of the
   * rows found, which the answer reads next.
   */
  rowsOf(keys: readonly string[], indices: readonly number[], rows: Int32Array): void {
    const { slots, mask, u32, stride4 } = this;
    const n = indices.length;
    const starts = this.startsFor(n);
    let touched = 0;
    for (let j = 0; j < n; j++) {
      const i = hashKey(keys[indices[j]!]!) & mask;
      starts[j] = i;
      touched |= slots[i]!;
    }
    for (let j = 0; j < n; j++) {
      const slot = slots[starts[j]!]!;
      if (slot !== 0) touched |= u32[(slot - 1) * stride4 + 3]!;
    }
    for (let j = 0; j < n; j++) rows[j] = this.probe(keys[indices[j]!]!, starts[j]!);
    // The answer reads the rows' fields next: each record's cache lines,
    // loaded here all at once, overlap their misses the same way.
    for (let j = 0; j < n; j++) {
      const row = rows[j]!;
      if (row < 0) continue;
      const base = row * stride4;
      for (let k = 0; k < stride4; k += 16) touched |= u32[base + k]!;
    }
    // Kept, so that the compiler cannot drop the loads above as unused.
    this.touched = touched;
  }

  private startsFor(n: number): Int32Array {
    if (this.starts.length < n) this.starts = new Int32Array(Math.max(n, this.starts.length * 2));
    return this.starts;
  }

  /** Linear probing from slot i. */
  private probe(key: string, start: number): number {
    const { slots, mask, u32, stride4, heap, records } = this;
    let i = start;
    for (;;) {
      const slot = slots[i]!;
      if (slot === 0) return -1;
      const at = (slot - 1) * stride4 + 2;
      const length = u32[at + 1]!;
      const found = length <= INLINE_KEY_BYTES
        ? utf8Equals(records, at * 4 + 8, at * 4 + 8 + length, key)
        : utf8Equals(heap, u32[at]!, u32[at]! + length, key);
      if (found) return slot - 1;
      i = (i + 1) & mask;
    }
  }
}

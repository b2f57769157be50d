/**
 * The entity-key index of one view: an open-addressing hash table (linear
 * probing, load <= 0.5) over the canonical key strings, stored in the bundle
 * so that opening builds nothing. A slot holds row + 1; the row record holds
 * where the key's bytes are, so a probe reads one slot, one record and the
 * key bytes.
 */
import { hashKey } from '../keys.js';
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

  constructor(
    private readonly slots: Int32Array,
    records: Uint8Array,
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
    const { slots, mask, u32, stride4, heap } = this;
    let i = hashKey(key) & mask;
    for (;;) {
      const slot = slots[i]!;
      if (slot === 0) return -1;
      const at = (slot - 1) * stride4 + 2;
      const start = u32[at]!;
      if (utf8Equals(heap, start, start + u32[at + 1]!, key)) return slot - 1;
      i = (i + 1) & mask;
    }
  }
}

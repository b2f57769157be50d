/** BufferPool: lends each backing buffer to one holder at a time, and reuses what is given back. */
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/sidecar/buffer-pool.js';

describe('BufferPool', () => {
  it('hands out exactly the size asked, and never one lent buffer twice', () => {
    const pool = new BufferPool();
    const a = pool.take(100);
    const b = pool.take(100);
    expect(a.length).toBe(100);
    expect(a.buffer).not.toBe(b.buffer);
    a.fill(1);
    b.fill(2);
    expect(a.every((x) => x === 1)).toBe(true);
  });

  it('reuses a buffer once given back, also for a smaller answer', () => {
    const pool = new BufferPool();
    const a = pool.take(50_000);
    pool.give(a);
    expect(pool.idle).toBe(1);
    const b = pool.take(10);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.idle).toBe(0);
  });

  it('replaces a buffer too small for the answer, and a double give counts once', () => {
    const pool = new BufferPool();
    const small = pool.take(10);
    pool.give(small);
    pool.give(small);
    expect(pool.idle).toBe(1);
    const big = pool.take(1_000_000);
    expect(big.length).toBe(1_000_000);
    expect(big.buffer).not.toBe(small.buffer);
    expect(pool.idle).toBe(0);
  });

  it('keeps a bounded number of idle buffers, none over the size bound', () => {
    const pool = new BufferPool(2, 64 * 1024);
    const lent = [pool.take(10), pool.take(10), pool.take(10), pool.take(100_000)];
    for (const b of lent) pool.give(b);
    expect(pool.idle).toBe(2);
  });
});

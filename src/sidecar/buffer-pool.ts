/**
 * Memory for response bodies, reused once a response has been handed to the
 * socket. A fresh buffer per answer is memory outside the JS heap, and V8
 * answers a steady stream of it with full garbage collections: at 200 wide
 * answers (230 kB) a second, one every few dozen ms, each a pause of
 * milliseconds in the latency tail. Only buffers given back are reused, so a
 * response whose connection dies before it is flushed simply keeps its own.
 */
import { Buffer } from 'node:buffer';

/** Smallest backing buffer made: small answers share one size. */
const MIN_BYTES = 16 * 1024;

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  /** Keeps at most `maxKept` idle backing buffers of at most `maxBytes` each. */
  constructor(
    private readonly maxKept = 16,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  /** A buffer of exactly `size` bytes (contents undefined), lent until give(). */
  take(size: number): Buffer<ArrayBuffer> {
    let backing: ArrayBuffer | undefined;
    while ((backing = this.free.pop()) !== undefined && backing.byteLength < size) {
      // Too small for this answer: dropped, a larger one replaces it.
    }
    if (!backing) {
      let bytes = MIN_BYTES;
      while (bytes < size) bytes *= 2;
      backing = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
    }
    return Buffer.from(backing, 0, size);
  }

  /** Returns a buffer from take() once nothing reads it any more. */
  give(buf: Buffer<ArrayBuffer>): void {
    const backing = buf.buffer;
    if (this.free.length < this.maxKept && backing.byteLength <= this.maxBytes && !this.free.includes(backing)) this.free.push(backing);
  }

  /** Idle backing buffers (for tests). */
  get idle(): number {
    return this.free.length;
  }
}

/**
 * Commands whose RESP bytes larder frames itself, into one Buffer, and
 * sends through ioredis like any other command (its queue, timeouts,
 * reconnects and cluster routing stay in charge).
 *
 * Why: ioredis frames every argument on its own (a header string per
 * argument, then a copy of each into the command's buffer), about 1 µs per
 * argument. A write of rows sends two per row (key and value), a thousand a
 * call, so framing cost more than encoding the rows. Framing them here is a
 * copy of each key's characters and each value's bytes.
 *
 * The contract: PreparedCommand sends exactly `bytes`; `routeArgs` only tell
 * ioredis the command's first key (a cluster client routes by its slot, and
 * every key of a call shares that slot). test/sidecar/redis-resp.test.ts
 * checks that RespBuilder frames what ioredis would.
 */
import { Command } from 'ioredis';

const CR = 13;
const LF = 10;
const EMPTY: Buffer = Buffer.alloc(0);

/** Appends RESP (arrays of bulk strings) to one Buffer that grows as needed. */
export class RespBuilder {
  private buf: Buffer;
  private at = 0;

  /** `capacity`: the bytes expected, so that the buffer seldom grows. */
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  /** `*<n>\r\n`: a command of n arguments (its name counts) follows. */
  array(n: number): this {
    this.room(24);
    this.buf[this.at++] = 42; // '*'
    this.digits(n);
    return this;
  }

  /** One argument: a string's UTF-8 bytes. */
  string(s: string): this {
    return this.prefixed(EMPTY, s);
  }

  /** One argument: `prefix` (bytes), then `s` as UTF-8: a key from its prefix and entity key, without joining them. */
  prefixed(prefix: Uint8Array, s: string): this {
    this.room(prefix.length + s.length + 32);
    const start = this.at;
    this.buf[this.at++] = 36; // '$'
    this.digits(prefix.length + s.length);
    this.buf.set(prefix, this.at);
    this.at += prefix.length;
    // Entity keys are mostly ASCII: then a character is a byte, copied in a loop.
    if (this.ascii(s)) {
      this.end();
      return this;
    }
    this.at = start;
    const bytes = prefix.length + Buffer.byteLength(s);
    this.room(bytes + 32);
    this.buf[this.at++] = 36;
    this.digits(bytes);
    this.buf.set(prefix, this.at);
    this.at += prefix.length;
    this.at += this.buf.write(s, this.at, 'utf8');
    this.end();
    return this;
  }

  /** One argument: `src[start, end)`. */
  bytes(src: Uint8Array, start: number, end: number): this {
    this.room(end - start + 32);
    this.buf[this.at++] = 36;
    this.digits(end - start);
    // A subarray per value is short-lived garbage, and set copies as memcpy
    // does: a byte loop cost several times more for 200-byte values.
    this.buf.set(src.subarray(start, end), this.at);
    this.at += end - start;
    this.end();
    return this;
  }

  /** The bytes written (a view of the builder's buffer). */
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  /** Copies `s` when it is all ASCII; false (the copy half done) when not. */
  private ascii(s: string): boolean {
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at++] = c;
    }
    this.at = at;
    return true;
  }

  /** `<n>\r\n`, n a non-negative integer. */
  private digits(n: number): void {
    const buf = this.buf;
    let width = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) width++;
    for (let i = this.at + width - 1; i >= this.at; i--) {
      buf[i] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    this.at += width;
    buf[this.at++] = CR;
    buf[this.at++] = LF;
  }

  private end(): void {
    this.buf[this.at++] = CR;
    this.buf[this.at++] = LF;
  }

  private room(extra: number): void {
    if (this.at + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + extra));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

/** A command sent as `bytes` (see the contract above). */
export class PreparedCommand extends Command {
  constructor(name: string, routeArgs: (string | number)[], private readonly bytes: Buffer) {
    super(name, routeArgs);
  }

  override toWritable(): Buffer {
    return this.bytes;
  }
}

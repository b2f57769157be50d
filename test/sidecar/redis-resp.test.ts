/**
 * RespBuilder frames a command exactly as ioredis frames the same
 * arguments, so a PreparedCommand sends what ioredis would have sent.
 */
import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RespBuilder } from '../../src/sidecar/redis/resp.js';

/** ioredis's own framing of a command (Buffers as bytes, strings as UTF-8). */
const ioredis = (name: string, args: (string | Buffer)[]): Buffer => {
  const out = new Command(name, args).toWritable({});
  return Buffer.isBuffer(out) ? out : Buffer.from(out);
};

describe('RespBuilder', () => {
  it('frames names, strings (after a prefix or not, ASCII or not, empty) and byte ranges as ioredis does', () => {
    const value = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    const parts: [string, string][] = [['larder:{p:v:0a1b2c3d:0f}:', '12345'], ['ns:{p✓:v:x:00}:', 'Zürich ✓'], ['', ''], ['k', '😀'], ['a'.repeat(9), ''], ['b'.repeat(99), 'c']];
    const resp = new RespBuilder(16).array(1 + 2 * parts.length).string('MSETNX');
    const args: (string | Buffer)[] = [];
    parts.forEach(([head, tail], i) => {
      const [start, end] = [i * 100, i * 100 + [0, 1, 9, 10, 99, 100][i]!];
      resp.prefixed(Buffer.from(head), tail).bytes(i % 2 ? value : new Uint8Array(value.buffer, value.byteOffset, value.length), start, end);
      args.push(head + tail, value.subarray(start, end));
    });
    expect(resp.done()).toEqual(ioredis('MSETNX', args));
  });

  it('frames lengths of every width, growing its buffer as needed', () => {
    for (const n of [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65_536, 1_000_001]) {
      const s = 'x'.repeat(n);
      const bytes = Buffer.alloc(n, 7);
      const framed = new RespBuilder(1).array(3).string('EVAL').string(s).bytes(bytes, 0, n).done();
      // Buffer.equals: a deep comparison of a megabyte, byte by byte, takes seconds.
      expect(framed.equals(ioredis('EVAL', [s, bytes])), `length ${n}`).toBe(true);
    }
  });
});

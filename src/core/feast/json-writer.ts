/**
 * Writes JSON text as UTF-8 bytes into one growing buffer. Serving answers
 * are mostly numbers, fixed words and short ASCII strings, so those are
 * written byte by byte here; building a JS string first and encoding it
 * afterwards cost about as much again as the lookups themselves.
 *
 * Numbers are written exactly as JSON.stringify writes them, except that
 * values of float32 features are written as the shortest decimal that reads
 * back as the same float32 (0.1, not 0.10000000149011612): what protobuf's
 * JSON mapping, and so Feast, prints for a float field.
 */
import { LarderError } from '../errors.js';
import { withRoom } from '../bytes.js';
import { DAY, HOURS, MILLIS, MINUTES, MONTH, SECONDS, YEAR, civilTime, formatTimestamp, isPlainTime } from '../time.js';

const encoder = new TextEncoder();

/** 10^d for the decimal fast paths; all exact doubles. */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const MAX_DECIMALS = POW10.length - 1;
/**
 * The fast path keeps v * 10^d below 2^50: there the product is off by at
 * most 1/16 and v's own rounding interval is under a quarter of 10^-d wide,
 * so rounding the product finds the one decimal that reads back as v.
 */
const FAST_LIMIT = 2 ** 50;
/** Below this every integer is a float32, so no shorter integer reads back as the same one. */
const FLOAT32_INTEGERS = 2 ** 24;

/** Chunks up to this long are copied in a JS loop; longer ones in one native call, which costs more to make than a short copy. */
const SHORT_CHUNK = 64;
/**
 * copy() and repeat() take the native path sooner than chunk(): their
 * sources are parts of a document (values, statuses) that run longer than
 * punctuation, and a JS loop costs about 1.5 ns a byte against some 30 to
 * 40 ns for a native copy.
 */
const SHORT_COPY = 24;
/** copy() copies parts longer than this natively: from here on a subarray costs less than the word loop. */
const LONG_COPY = 96;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonWriter {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(1 << 14);
  private at = 0;
  /** A DataView of `buf` for copy(), made when first needed after `buf` changes. */
  private words: DataView | undefined;
  /** The last source copy() read, and a DataView of it. */
  private source: Uint8Array | undefined;
  private sourceWords: DataView | undefined;

  /** Starts a new document, keeping the buffer. */
  reset(): void {
    this.at = 0;
  }

  /** The bytes written since the last reset: a view, valid until the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }

  /** Forgets what was written after the mark `at` (from length). */
  truncate(at: number): void {
    if (at < this.at) this.at = at;
  }

  /** How many bytes are written: a mark for repeat(). */
  get length(): number {
    return this.at;
  }

  /** Writes again the bytes written between two marks (one native copy, or a short loop). */
  repeat(start: number, end: number): void {
    const n = end - start;
    this.room(n);
    const buf = this.buf;
    let at = this.at;
    if (n > SHORT_COPY) {
      buf.copyWithin(at, start, end);
      this.at = at + n;
      return;
    }
    for (let i = start; i < end; i++) buf[at++] = buf[i]!;
    this.at = at;
  }

  private room(n: number): void {
    if (this.at + n > this.buf.length) {
      this.buf = withRoom(this.buf, this.at, n);
      this.words = undefined;
    }
  }

  /** Writes `s`, which the caller knows to be ASCII needing no escapes (punctuation, keywords). */
  raw(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** Writes bytes known to be valid JSON text (pre-encoded punctuation and keywords). */
  chunk(bytes: Uint8Array): void {
    if (bytes.length > SHORT_CHUNK) {
      this.append(bytes);
      return;
    }
    this.room(bytes.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < bytes.length; i++) buf[at++] = bytes[i]!;
    this.at = at;
  }

  /** Writes `bytes` in one native copy (apart from chunk() so that chunk stays small enough to inline). */
  private append(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  /**
   * Writes src[start..end), bytes known to be valid JSON text (a part of an
   * earlier document). Parts of middling length go four bytes at a time
   * through DataViews: a native set() needs a subarray of the source, and
   * making one per part cost more than such a copy (and its garbage more
   * again); long parts are copied natively. Copying from the same source
   * again reuses its DataView.
   */
  copy(src: Uint8Array, start: number, end: number): void {
    if (end - start > SHORT_COPY) {
      this.copyLong(src, start, end);
      return;
    }
    this.room(end - start);
    const buf = this.buf;
    let at = this.at;
    for (let i = start; i < end; i++) buf[at++] = src[i]!;
    this.at = at;
  }

  /** copy() of a part longer than SHORT_COPY (apart, so that copy stays small enough to inline). */
  private copyLong(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.room(n);
    const buf = this.buf;
    let at = this.at;
    if (n > LONG_COPY) {
      buf.set(src.subarray(start, end), at);
      this.at = at + n;
      return;
    }
    if (src !== this.source) {
      this.source = src;
      this.sourceWords = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    const from = this.sourceWords!;
    const to = (this.words ??= new DataView(buf.buffer, buf.byteOffset, buf.byteLength));
    let i = start;
    for (; i + 4 <= end; i += 4, at += 4) to.setUint32(at, from.getUint32(i, true), true);
    for (; i < end; i++) buf[at++] = src[i]!;
    this.at = at;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  /** A JSON string. Plain ASCII is copied; anything else goes through JSON.stringify, so escaping is exactly JSON's. */
  string(s: string): void {
    this.room(s.length + 2);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = QUOTE;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
        this.utf8(JSON.stringify(s));
        return;
      }
      buf[at++] = c;
    }
    buf[at++] = QUOTE;
    this.at = at;
  }

  private utf8(s: string): void {
    this.room(s.length * 3);
    this.at += encoder.encodeInto(s, this.buf.subarray(this.at)).written;
  }

  /** A number as JSON.stringify writes it (non-finite numbers become null). */
  number(v: number): void {
    ONE[0] = v;
    this.numberAt(ONE, 0, false, 0);
  }

  /**
   * A number expected to be an integer (epoch milliseconds, counts), as
   * number() writes it: integers below 2^50 skip number()'s search for
   * decimals; anything else goes through number().
   */
  integer(v: number): void {
    const a = Math.abs(v);
    if (!(a < FAST_LIMIT) || !Number.isInteger(a)) {
      this.number(v);
      return;
    }
    this.room(MAX_NUMBER_BYTES);
    let at = this.at;
    if (v < 0) this.buf[at++] = 0x2d; // JSON.stringify(-0) is "0": -0 < 0 is false
    this.at = writeDigits(this.buf, at, a, 0);
  }

  /** A float32 value: the shortest decimal that reads back as the same float32. */
  float32(v: number): void {
    ONE[0] = v;
    this.numberAt(ONE, 0, true, 0);
  }

  /**
   * Numbers separated by commas, as JSON.stringify writes an array's items
   * (NaN, and so a null carried as NaN, is null); `float32` as float32().
   */
  numbers(values: Float64Array, float32: boolean): void {
    let hint = 0;
    for (let i = 0; i < values.length; i++) {
      if (i > 0) this.byte(0x2c);
      const d = this.numberAt(values, i, float32, hint);
      if (d > hint) hint = d;
    }
  }

  /**
   * values[i] as number() or float32() write it: the fast decimal path when
   * it applies, else the exact general one. Returns the decimals written
   * (-1: the general path): a hint for the next value of the column.
   */
  private numberAt(values: Float64Array, i: number, float32: boolean, hint: number): number {
    const d = decimalPlaces(values, i, float32, hint);
    const x = valueAt(values, i, float32);
    if (d < 0) {
      this.raw(Number.isFinite(x) ? '' + (float32 ? shortestFloat32(x) : x) : 'null');
      return -1;
    }
    const scale = POW10[d]!;
    const a = Math.abs(x);
    const n = Math.round(a * scale);
    // The integer part of n / 10^d is a's, without a division: no integer
    // lies between a and the decimal that reads back as a (it would read
    // back as itself), and n / 10^d is not an integer when d > 0 (its last
    // digit is not a zero).
    const whole = Math.floor(a);
    this.writeDecimal(x < 0, whole, n - whole * scale, d);
    return d;
  }

  /**
   * The event time values[i] (epoch ms) as the JSON string formatTimestamp
   * gives, written straight as bytes: building the string cost more than
   * writing it.
   */
  timestampAt(values: Float64Array, i: number): void {
    const ms = values[i]!;
    if (!isPlainTime(ms)) {
      this.string(formatTimestamp(ms));
      return;
    }
    civilTime(ms, PARTS);
    this.room(TIMESTAMP_BYTES);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = QUOTE;
    at = writeDigits(buf, at, PARTS[YEAR]!, 4);
    buf[at++] = 0x2d; // -
    at = writeDigits(buf, at, PARTS[MONTH]!, 2);
    buf[at++] = 0x2d;
    at = writeDigits(buf, at, PARTS[DAY]!, 2);
    buf[at++] = 0x54; // T
    at = writeDigits(buf, at, PARTS[HOURS]!, 2);
    buf[at++] = 0x3a; // :
    at = writeDigits(buf, at, PARTS[MINUTES]!, 2);
    buf[at++] = 0x3a;
    at = writeDigits(buf, at, PARTS[SECONDS]!, 2);
    const millis = PARTS[MILLIS]!;
    if (millis !== 0) {
      buf[at++] = 0x2e; // .
      at = writeDigits(buf, at, millis, 3);
    }
    buf[at++] = 0x5a; // Z
    buf[at++] = QUOTE;
    this.at = at;
  }

  /** Any JSON value, as JSON.stringify writes it; `float32` applies to numbers at any depth. */
  value(v: unknown, float32 = false): void {
    switch (typeof v) {
      case 'number':
        if (float32) this.float32(v);
        else this.number(v);
        return;
      case 'string':
        this.string(v);
        return;
      case 'boolean':
        this.raw(v ? 'true' : 'false');
        return;
      case 'object':
        if (v === null) break;
        if (Array.isArray(v)) {
          this.byte(0x5b);
          for (let i = 0; i < v.length; i++) {
            if (i > 0) this.byte(0x2c);
            // JSON.stringify writes holes, undefined and functions in arrays as null.
            const item: unknown = v[i];
            if (item === undefined || typeof item === 'function' || typeof item === 'symbol') this.raw('null');
            else this.value(item, float32);
          }
          this.byte(0x5d);
          return;
        }
        this.utf8(JSON.stringify(v) ?? 'null');
        return;
      case 'bigint':
        // JSON.stringify throws on bigints; values never hold them, requests cannot.
        throw new LarderError('LARDER_ERR_INTERNAL', 'cannot write a bigint as JSON');
    }
    this.raw('null');
  }

  /** Writes [-]whole[.frac], frac zero-padded to d digits (none when d is 0). */
  private writeDecimal(negative: boolean, whole: number, frac: number, d: number): void {
    this.room(MAX_NUMBER_BYTES);
    const buf = this.buf;
    let at = this.at;
    if (negative) buf[at++] = 0x2d;
    at = writeDigits(buf, at, whole, 0);
    if (d > 0) {
      buf[at++] = 0x2e;
      at = writeDigits(buf, at, frac, d);
    }
    this.at = at;
  }
}

/**
 * Numbers travel between these functions as (array, index), not as doubles:
 * a double passed to a call that is not inlined is boxed into a new heap
 * object, and for the values of a wide answer that was most of its garbage.
 */
const ONE = new Float64Array(1);

/** values[i], rounded to float32 when `float32`. */
function valueAt(values: Float64Array, i: number, float32: boolean): number {
  return float32 ? Math.fround(values[i]!) : values[i]!;
}

/**
 * The fast path for numbers with few decimals (counts, prices, rates): the
 * fewest decimals d (up to 9) such that n / 10^d, n an integer, is the
 * double a = |values[i]| (or, for float32, rounds to it). Writing the
 * digits of n is then the shortest round-trip text, which JSON.stringify
 * also writes, in plain notation whenever 1e-6 <= |v| < 1e21. Returns -1
 * to leave the value to the general path (out of range, not finite, or no
 * such d).
 *
 * `hint` is a d that read back for the value before in the same column (0:
 * none): values of one feature mostly have as many decimals. Any d above
 * the fewest reads back too, so when the hint reads back the fewest is at
 * most the hint. For a double that settles it (below 2^50 / 10^d its
 * rounding interval is under a quarter of 10^-d wide, so it holds one
 * d-decimal number: the fewest, padded with zeros, which stripping them
 * gives back). A float32's interval is wider, so there the hint is the
 * fewest only if hint - 1 does not read back.
 */
function decimalPlaces(values: Float64Array, i: number, float32: boolean, hint: number): number {
  const a = Math.abs(valueAt(values, i, float32));
  if (a === 0) return 0; // JSON.stringify(-0) is "0"
  // A float32 from 2^24 up is an integer whose shortest text may end in
  // zeros (130946208 reads back from 130946210): the general path.
  if (!(a >= 1e-6 && a < (float32 ? FLOAT32_INTEGERS : FAST_LIMIT))) return -1;
  // Integers (int64 features, counts) need no search.
  if (Number.isInteger(a)) return 0;
  let from = 1;
  if (hint > 0) {
    const scale = POW10[hint]!;
    const scaled = a * scale;
    if (scaled < FAST_LIMIT) {
      let n = Math.round(scaled);
      const back = n / scale;
      if (float32 ? Math.fround(back) === a : back === a) {
        if (!float32) {
          let d = hint;
          for (let q = Math.floor(n / 10); n === q * 10; q = Math.floor(n / 10)) {
            n = q;
            d--;
          }
          return d;
        }
        const below = POW10[hint - 1]!;
        if (Math.fround(Math.round(a * below) / below) !== a) return trailingZero(n) ? -1 : hint;
      } else from = hint + 1;
    }
  }
  for (let d = from; d <= MAX_DECIMALS; d++) {
    const scale = POW10[d]!;
    const scaled = a * scale;
    if (scaled >= FAST_LIMIT) return -1;
    const n = Math.round(scaled);
    const back = n / scale;
    if (float32 ? Math.fround(back) !== a : back !== a) continue;
    // A trailing zero means a shorter text exists that this search missed
    // (rounding at a power of two): leave it to the exact general path.
    return trailingZero(n) ? -1 : d;
  }
  return -1;
}

const trailingZero = (n: number): boolean => n === Math.floor(n / 10) * 10;

/** Civil time parts of the timestamp being written (see civilTime). */
const PARTS = new Int32Array(7);
/** "YYYY-MM-DDTHH:MM:SS.mmmZ" with its quotes. */
const TIMESTAMP_BYTES = 26;

/** Sign, 16 integer digits, point and 9 decimals: the most writeDecimal writes. */
const MAX_NUMBER_BYTES = 27;

/** The two ASCII digits of 0..99, at 2k and 2k + 1. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

/** How many decimal digits the integer 0 <= n < 2^50 has. */
function digitCount(n: number): number {
  if (n < 1e4) return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : 4;
  if (n < 1e8) return n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : 8;
  let len = 9;
  for (let p = 1e9; p <= n; p *= 10) len++;
  return len;
}

/**
 * Writes the decimal digits of the integer 0 <= n < 2^50 at buf[at], zero
 * padded to `width` digits; returns the index after them.
 */
function writeDigits(buf: Uint8Array, at: number, n: number, width: number): number {
  let len = digitCount(n);
  if (len < width) len = width;
  let i = at + len - 1;
  for (; n >= 0x80000000; i--) {
    const q = Math.floor(n / 10);
    buf[i] = 0x30 + (n - q * 10);
    n = q;
  }
  // Small enough for int32 arithmetic: `m` is an int32, so dividing by a
  // constant compiles to a multiply and shift, not a double division; and
  // two digits a step halve the divisions.
  let m = n | 0;
  for (; i > at; i -= 2) {
    const q = (m / 100) | 0;
    const pair = (m - q * 100) << 1;
    buf[i] = DIGIT_PAIRS[pair + 1]!;
    buf[i - 1] = DIGIT_PAIRS[pair]!;
    m = q;
  }
  if (i === at) buf[i] = 0x30 + m;
  return at + len;
}

/**
 * The shortest decimal that reads back (as a double, like any JSON parser)
 * to a value rounding to the float32 `f`: the general path of float32().
 * Nine significant digits always suffice for a float32.
 */
export function shortestFloat32(f: number): number {
  for (let p = 1; p < 9; p++) {
    const x = Number(f.toPrecision(p));
    if (Math.fround(x) === f) return x;
  }
  return Number(f.toPrecision(9));
}

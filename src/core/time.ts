/** Timestamps: epoch milliseconds inside, RFC 3339 (Feast's JSON form) outside. */

/** Feast's event timestamp for values that have none (join keys, NOT_FOUND). */
export const EPOCH_ISO = '1970-01-01T00:00:00Z';

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i);
/** 0000-01-01T00:00:00Z and the first millisecond after 9999-12-31: the four-digit years. */
const FOUR_DIGIT_YEARS = [-62_167_219_200_000, 253_402_300_800_000] as const;
const DAY_MS = 86_400_000;

/**
 * Whether `ms` is a whole millisecond of the years 0000 to 9999, which
 * civilTime covers; other times are formatted by toISOString.
 */
export function isPlainTime(ms: number): boolean {
  return Number.isInteger(ms) && ms >= FOUR_DIGIT_YEARS[0] && ms < FOUR_DIGIT_YEARS[1];
}

/**
 * The times larder stores (event, created and `timestamp` feature values):
 * whole milliseconds from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
 * That is protobuf's Timestamp range, which Feast's JSON answers carry, and
 * RFC 3339's four-digit years; formatTimestamp writes every one of them.
 * DuckDB's timestamps reach far past it (and infinity); the builder refuses
 * or skips such rows, and the decoder rejects a bundle holding one.
 */
export const MIN_TIME_MS = -62_135_596_800_000;
export const MAX_TIME_MS = 253_402_300_799_999;
/** The range above, for messages. */
export const TIME_RANGE_TEXT = '0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z';

/** Whether `ms` is a time larder stores (see MIN_TIME_MS). */
export function isStorableTime(ms: number): boolean {
  return Number.isInteger(ms) && ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;
}

/** The parts civilTime writes, in this order. */
export const YEAR = 0, MONTH = 1, DAY = 2, HOURS = 3, MINUTES = 4, SECONDS = 5, MILLIS = 6;

/**
 * The UTC calendar date and time of `ms` (isPlainTime) into `out` at YEAR
 * .. MILLIS. Computed here rather than by a Date, which cost more than the
 * rest of a row's lookup (a request formats one time per row served).
 */
export function civilTime(ms: number, out: Int32Array): void {
  // Past the one division of the double, every quantity fits an int32, and
  // int32 division by a constant is a multiply (`| 0` keeps them int32).
  const days = Math.floor(ms / DAY_MS);
  let rest = (ms - days * DAY_MS) | 0;
  // Civil date from days since 1970-01-01, in 400-year eras of the Gregorian
  // calendar (days before 0000-03-01 fall in era -1).
  const z = (days + 719_468) | 0;
  const era = ((z >= 0 ? z : z - 146_096) / 146_097) | 0;
  const dayOfEra = (z - era * 146_097) | 0;
  const yearOfEra = ((dayOfEra - ((dayOfEra / 1460) | 0) + ((dayOfEra / 36_524) | 0) - ((dayOfEra / 146_096) | 0)) / 365) | 0;
  const dayOfYear = (dayOfEra - (365 * yearOfEra + ((yearOfEra / 4) | 0) - ((yearOfEra / 100) | 0))) | 0;
  const monthFromMarch = ((5 * dayOfYear + 2) / 153) | 0;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  out[YEAR] = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  out[MONTH] = month;
  out[DAY] = dayOfYear - (((153 * monthFromMarch + 2) / 5) | 0) + 1;
  const millis = rest % 1000;
  rest = ((rest - millis) / 1000) | 0;
  const seconds = rest % 60;
  rest = ((rest - seconds) / 60) | 0;
  const minutes = rest % 60;
  out[HOURS] = ((rest - minutes) / 60) | 0;
  out[MINUTES] = minutes;
  out[SECONDS] = seconds;
  out[MILLIS] = millis;
}

const parts = new Int32Array(7);

/**
 * Formats epoch milliseconds the way protobuf's JSON mapping (and so Feast)
 * prints a Timestamp: whole seconds without a fraction, else milliseconds.
 */
export function formatTimestamp(ms: number): string {
  if (!isPlainTime(ms)) {
    // Extended years (and invalid times, which throw a RangeError) as toISOString has them.
    const iso = new Date(ms).toISOString();
    return ms % 1000 === 0 ? iso.slice(0, 19) + 'Z' : iso;
  }
  civilTime(ms, parts);
  const year = parts[YEAR]!;
  const millis = parts[MILLIS]!;
  const text =
    TWO_DIGITS[Math.floor(year / 100)]! + TWO_DIGITS[year % 100]! + '-' + TWO_DIGITS[parts[MONTH]!]! + '-' + TWO_DIGITS[parts[DAY]!]! +
    'T' + TWO_DIGITS[parts[HOURS]!]! + ':' + TWO_DIGITS[parts[MINUTES]!]! + ':' + TWO_DIGITS[parts[SECONDS]!]!;
  if (millis === 0) return text + 'Z';
  return text + '.' + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z';
}

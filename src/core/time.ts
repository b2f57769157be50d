/** Timestamps: epoch milliseconds inside, RFC 3339 (Feast's JSON form) outside. */

/** Feast's event timestamp for values that have none (join keys, NOT_FOUND). */
export const EPOCH_ISO = '1970-01-01T00:00:00Z';

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i);
/** 0000-01-01T00:00:00Z and the first millisecond after 9999-12-31: the four-digit years. */
const FOUR_DIGIT_YEARS = [-62_167_219_200_000, 253_402_300_800_000] as const;
const DAY_MS = 86_400_000;

/**
 * Formats epoch milliseconds the way protobuf's JSON mapping (and so Feast)
 * prints a Timestamp: whole seconds without a fraction, else milliseconds.
 * Dates are computed here rather than by toISOString, which cost more than
 * the rest of a row's lookup (a request formats one per row served).
 */
export function formatTimestamp(ms: number): string {
  if (!Number.isInteger(ms) || ms < FOUR_DIGIT_YEARS[0] || ms >= FOUR_DIGIT_YEARS[1]) {
    // Extended years (and invalid times, which throw a RangeError) as toISOString has them.
    const iso = new Date(ms).toISOString();
    return ms % 1000 === 0 ? iso.slice(0, 19) + 'Z' : iso;
  }
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  // Civil date from days since 1970-01-01, in 400-year eras of the Gregorian calendar.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  const text =
    TWO_DIGITS[Math.floor(year / 100)]! + TWO_DIGITS[year % 100]! + '-' + TWO_DIGITS[month]! + '-' + TWO_DIGITS[day]! +
    'T' + TWO_DIGITS[hours]! + ':' + TWO_DIGITS[minutes]! + ':' + TWO_DIGITS[seconds]!;
  if (millis === 0) return text + 'Z';
  return text + '.' + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z';
}

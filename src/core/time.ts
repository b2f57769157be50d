/** Timestamps: epoch milliseconds inside, RFC 3339 (Feast's JSON form) outside. */

/** Feast's event timestamp for values that have none (join keys, NOT_FOUND). */
export const EPOCH_ISO = '1970-01-01T00:00:00Z';

/**
 * Formats epoch milliseconds the way protobuf's JSON mapping (and so Feast)
 * prints a Timestamp: whole seconds without a fraction, else milliseconds.
 */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.slice(0, 19) + 'Z' : iso;
}

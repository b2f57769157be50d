/**
 * The one catalog of larder errors. Every failure a user can cause carries a
 * stable `LARDER_ERR_*` code; the HTTP status for each code is fixed here and
 * nowhere else, so the sidecar, the CLI and the in-process API agree.
 */
export const ERROR_CATALOG = {
  // Configuration (feature repo): fail at start-up, never at request time.
  LARDER_ERR_CONFIG: 500,
  LARDER_ERR_CONFIG_NOT_FOUND: 500,
  // Offline data read by the builder.
  LARDER_ERR_SOURCE: 500,
  // Bundle files.
  LARDER_ERR_BUNDLE_MAGIC: 500,
  LARDER_ERR_BUNDLE_VERSION: 500,
  LARDER_ERR_BUNDLE_CHECKSUM: 500,
  LARDER_ERR_BUNDLE_CORRUPT: 500,
  LARDER_ERR_BUNDLE_NOT_FOUND: 500,
  // Requests: always 4xx.
  LARDER_ERR_BAD_JSON: 400,
  LARDER_ERR_BAD_REQUEST: 400,
  LARDER_ERR_UNKNOWN_VIEW: 404,
  LARDER_ERR_UNKNOWN_FEATURE: 404,
  LARDER_ERR_UNKNOWN_SERVICE: 404,
  LARDER_ERR_MISSING_JOIN_KEY: 400,
  LARDER_ERR_EXTRA_JOIN_KEY: 400,
  LARDER_ERR_JOIN_KEY_TYPE: 400,
  LARDER_ERR_ENTITY_LENGTHS: 400,
  LARDER_ERR_TOO_MANY_ENTITIES: 413,
  LARDER_ERR_BODY_TOO_LARGE: 413,
  LARDER_ERR_NOT_FOUND: 404,
  LARDER_ERR_NOT_READY: 503,
  // Writes (/push): refused without the admin token (401), or when writes are off (403).
  LARDER_ERR_UNAUTHORIZED: 401,
  LARDER_ERR_WRITES_OFF: 403,
  LARDER_ERR_BAD_PUSH: 400,
  // Redis could not be reached or failed a write (a push is answered 503; retrying is safe).
  LARDER_ERR_REDIS: 503,
  // A tier (Redis, ...) that did not answer in time; its keys read as misses.
  LARDER_ERR_TIER_TIMEOUT: 503,
  // A bug, never a user's fault: the sidecar logs the stack and answers this.
  LARDER_ERR_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class LarderError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LarderError';
    this.code = code;
  }

  /** HTTP status for this error, from the catalog. */
  get httpStatus(): number {
    return ERROR_CATALOG[this.code];
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isLarderError(e: unknown): e is LarderError {
  return e instanceof LarderError;
}

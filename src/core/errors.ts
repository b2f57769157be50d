/**
 * The one catalog of larder errors. Every failure a user can meet carries a
 * stable `LARDER_ERR_*` code; its HTTP status, the `larder` command's exit
 * code and a one-line meaning are fixed here and nowhere else, so the
 * sidecar, the CLI, the in-process API and the README agree.
 *
 * Exit codes: 2 when the command line itself is wrong (run `--help`), 1 for
 * everything else. HTTP: 4xx for what a client sent, never 5xx; errors that
 * cannot come from a request (start-up, builds) are 500 should one ever
 * reach an answer.
 */
export interface ErrorSpec {
  readonly httpStatus: number;
  readonly exitCode: number;
  /** One line for the README's error table. */
  readonly meaning: string;
}

export const ERROR_CATALOG = {
  // The command line: the user fixes the command and runs it again.
  LARDER_ERR_USAGE: { httpStatus: 400, exitCode: 2, meaning: 'The command line is wrong: an unknown command or flag, a flag without its value, a missing or extra argument.' },
  LARDER_ERR_OPTION: { httpStatus: 400, exitCode: 2, meaning: 'An option is missing or its value is invalid; the message names the flag, its environment variable and where the value came from.' },
  // The in-process API (buildBundle, encodeBundle, ...).
  LARDER_ERR_ARGUMENT: { httpStatus: 500, exitCode: 1, meaning: 'A function of the in-process API was called with an argument it cannot use.' },
  // Configuration (feature repo): fail at start-up, never at request time.
  LARDER_ERR_CONFIG: { httpStatus: 500, exitCode: 1, meaning: 'The feature repo config is invalid, or does not match its data; the message names the file, the view and the field.' },
  LARDER_ERR_CONFIG_NOT_FOUND: { httpStatus: 500, exitCode: 1, meaning: 'The feature repo folder does not exist, or holds no larder.config.ts, .mjs, .js or .json.' },
  // Offline data read by the builder.
  LARDER_ERR_SOURCE: { httpStatus: 500, exitCode: 1, meaning: 'Offline data or the hot keys file cannot be read: missing, unreadable or malformed.' },
  LARDER_ERR_VALUE: { httpStatus: 500, exitCode: 1, meaning: 'A value in the offline data cannot be stored in a bundle (an integer beyond ±2^53, a key holding U+001F, a view over 4 GiB).' },
  // Bundle files and folders.
  LARDER_ERR_BUNDLE_MAGIC: { httpStatus: 500, exitCode: 1, meaning: 'The file is not a larder bundle.' },
  LARDER_ERR_BUNDLE_VERSION: { httpStatus: 500, exitCode: 1, meaning: 'The bundle was written in a format version this larder does not read.' },
  LARDER_ERR_BUNDLE_CHECKSUM: { httpStatus: 500, exitCode: 1, meaning: "The bundle's bytes do not match its checksums: damaged or truncated." },
  LARDER_ERR_BUNDLE_CORRUPT: { httpStatus: 500, exitCode: 1, meaning: 'The bundle (or its .manifest.json) passed its checksums but its contents are inconsistent.' },
  LARDER_ERR_BUNDLE_NOT_FOUND: { httpStatus: 500, exitCode: 1, meaning: 'A bundle file or its manifest does not exist or cannot be read.' },
  LARDER_ERR_BUNDLE_DIR: { httpStatus: 500, exitCode: 1, meaning: 'A bundle folder cannot be listed, or a bundle cannot be written into it (not a folder, no permission, disk full).' },
  // The sidecar's start-up.
  LARDER_ERR_LISTEN: { httpStatus: 500, exitCode: 1, meaning: 'The sidecar cannot listen on its host and port (taken, not permitted, unknown host).' },
  // Requests: always 4xx (or 503 while no bundle is loaded).
  LARDER_ERR_BAD_JSON: { httpStatus: 400, exitCode: 1, meaning: 'The request body is empty, not UTF-8 or not JSON.' },
  LARDER_ERR_BAD_REQUEST: { httpStatus: 400, exitCode: 1, meaning: 'The request is not the shape Feast defines (fields, types, content type or encoding), or its body was cut short.' },
  LARDER_ERR_UNKNOWN_VIEW: { httpStatus: 404, exitCode: 1, meaning: 'A feature reference names a feature view the bundle does not hold.' },
  LARDER_ERR_UNKNOWN_FEATURE: { httpStatus: 404, exitCode: 1, meaning: 'A feature reference names a feature its view does not have.' },
  LARDER_ERR_UNKNOWN_SERVICE: { httpStatus: 404, exitCode: 1, meaning: 'The request names a feature service the repo does not define.' },
  LARDER_ERR_MISSING_JOIN_KEY: { httpStatus: 400, exitCode: 1, meaning: 'A requested feature view needs a join key that "entities" does not give.' },
  LARDER_ERR_EXTRA_JOIN_KEY: { httpStatus: 400, exitCode: 1, meaning: '"entities" gives a join key no requested feature view uses.' },
  LARDER_ERR_JOIN_KEY_TYPE: { httpStatus: 400, exitCode: 1, meaning: "A join key value is not of the join key's type." },
  LARDER_ERR_ENTITY_LENGTHS: { httpStatus: 400, exitCode: 1, meaning: 'The join key columns of "entities" have different lengths.' },
  LARDER_ERR_TOO_MANY_ENTITIES: { httpStatus: 413, exitCode: 1, meaning: 'The request asks for more entities than --max-entities allows.' },
  LARDER_ERR_BODY_TOO_LARGE: { httpStatus: 413, exitCode: 1, meaning: 'The request body is larger than --max-body-bytes allows.' },
  LARDER_ERR_NOT_FOUND: { httpStatus: 404, exitCode: 1, meaning: 'No such route.' },
  LARDER_ERR_NOT_READY: { httpStatus: 503, exitCode: 1, meaning: 'The sidecar has no bundle loaded yet; the message says why.' },
  // A bundle file larger than the reader allows (--max-bundle-bytes).
  LARDER_ERR_BUNDLE_TOO_LARGE: { httpStatus: 500, exitCode: 1, meaning: 'A bundle file is larger than --max-bundle-bytes allows; it is refused before it is read.' },
  // Writes (/push): refused without the admin token (401), or when writes are off (403).
  LARDER_ERR_UNAUTHORIZED: { httpStatus: 401, exitCode: 1, meaning: 'A write (/push, /admin/...) without the right admin token (Authorization: Bearer <token>).' },
  LARDER_ERR_WRITES_OFF: { httpStatus: 403, exitCode: 1, meaning: 'Writes are off: the sidecar was started without --admin-token.' },
  LARDER_ERR_BAD_PUSH: { httpStatus: 400, exitCode: 1, meaning: 'A pushed row does not match its view: the message names the row, the column and what was wrong; nothing was written.' },
  // Redis could not be reached or failed a write (a push is answered 503; retrying is safe).
  LARDER_ERR_REDIS: { httpStatus: 503, exitCode: 1, meaning: 'Redis could not be reached or failed a write; a push answered with this may be retried.' },
  // A tier (Redis, ...) that did not answer in time; its keys read as misses.
  LARDER_ERR_TIER_TIMEOUT: { httpStatus: 503, exitCode: 1, meaning: 'A tier (Redis, ...) did not answer within its deadline; its keys were answered as misses.' },
  // Connections: requests that broke HTTP's rules or limits before a route saw them.
  LARDER_ERR_REQUEST_TIMEOUT: { httpStatus: 408, exitCode: 1, meaning: 'The request headers or body did not arrive in time (5 s for headers, 10 s for a whole request).' },
  LARDER_ERR_EXPECTATION_FAILED: { httpStatus: 417, exitCode: 1, meaning: 'The request carries an Expect header other than 100-continue.' },
  LARDER_ERR_HEADERS_TOO_LARGE: { httpStatus: 431, exitCode: 1, meaning: 'The request headers are larger than the server accepts.' },
  LARDER_ERR_TOO_MANY_CONNECTIONS: { httpStatus: 503, exitCode: 1, meaning: 'The sidecar already holds --max-connections client connections.' },
  // Signed bundles and their versions (--public-key, the high-water mark).
  LARDER_ERR_KEY: { httpStatus: 500, exitCode: 1, meaning: 'A key file cannot be read or is not a larder Ed25519 key of the right kind (private to sign, public to verify).' },
  LARDER_ERR_BUNDLE_UNSIGNED: { httpStatus: 500, exitCode: 1, meaning: 'The bundle has no .sig file, and the reader requires signed bundles (--public-key).' },
  LARDER_ERR_BUNDLE_SIGNATURE: { httpStatus: 500, exitCode: 1, meaning: "The bundle's signature file is malformed, or its signature does not verify: it was altered." },
  LARDER_ERR_BUNDLE_KEY_UNKNOWN: { httpStatus: 500, exitCode: 1, meaning: 'The bundle is signed by a key that is not among the trusted public keys (--public-key).' },
  LARDER_ERR_BUNDLE_EXPIRED: { httpStatus: 500, exitCode: 1, meaning: "The bundle's signature has expired (larder build --expires-in)." },
  LARDER_ERR_BUNDLE_ROLLBACK: { httpStatus: 500, exitCode: 1, meaning: 'The bundle is older than the highest version this reader has accepted (kept on disk); only an operator rollback goes back.' },
  // The admin routes (--admin-token).
  LARDER_ERR_UNKNOWN_VERSION: { httpStatus: 404, exitCode: 1, meaning: 'No bundle file of the asked version is in the bundle folder.' },
  LARDER_ERR_ROLLBACK_REJECTED: { httpStatus: 409, exitCode: 1, meaning: 'The bundle asked for by a rollback failed its checks (signature, expiry, checksums); the current one keeps serving.' },
  // A bug, never a user's fault: the sidecar logs the stack and answers this.
  LARDER_ERR_INTERNAL: { httpStatus: 500, exitCode: 1, meaning: "A bug in larder (the details are logged): please report it." },
} as const satisfies Record<string, ErrorSpec>;

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
    return ERROR_CATALOG[this.code].httpStatus;
  }

  /** The `larder` command's exit code for this error, from the catalog. */
  get exitCode(): number {
    return ERROR_CATALOG[this.code].exitCode;
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isLarderError(e: unknown): e is LarderError {
  return e instanceof LarderError;
}

/** The longest piece of a request that an error message repeats. */
export const ECHO_MAX_CHARS = 64;

/**
 * A string from a request, quoted for an error message and cut to
 * ECHO_MAX_CHARS: a message must name what was wrong without echoing a
 * megabyte back to the client or into logs.
 */
export function quoteInput(s: string): string {
  return JSON.stringify(s.length > ECHO_MAX_CHARS ? `${s.slice(0, ECHO_MAX_CHARS)}...` : s) + (s.length > ECHO_MAX_CHARS ? ` (${s.length} characters)` : '');
}

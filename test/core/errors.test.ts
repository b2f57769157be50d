/** The error catalog: each code's HTTP status, exit code and meaning, fixed in one place. */
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, type ErrorCode, LarderError } from '../../src/core/errors.js';

const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];

describe('ERROR_CATALOG', () => {
  it('every code is LARDER_ERR_*, has an HTTP error status, exit code 1 or 2, and a one-line meaning', () => {
    for (const code of codes) {
      const spec = ERROR_CATALOG[code];
      expect(code).toMatch(/^LARDER_ERR_[A-Z_]+$/);
      expect(spec.httpStatus, code).toBeGreaterThanOrEqual(400);
      expect(spec.httpStatus, code).toBeLessThan(600);
      expect([1, 2], code).toContain(spec.exitCode);
      expect(spec.meaning, code).toMatch(/^[A-Z"].*\.$/);
      expect(spec.meaning, code).not.toContain('\n');
    }
  });

  it('only a wrong command line exits 2', () => {
    expect(codes.filter((c) => ERROR_CATALOG[c].exitCode === 2).sort()).toEqual(['LARDER_ERR_OPTION', 'LARDER_ERR_USAGE']);
  });

  it('what a client sends is answered 4xx, never 5xx', () => {
    const request: ErrorCode[] = [
      'LARDER_ERR_BAD_JSON', 'LARDER_ERR_BAD_REQUEST', 'LARDER_ERR_UNKNOWN_VIEW', 'LARDER_ERR_UNKNOWN_FEATURE', 'LARDER_ERR_UNKNOWN_SERVICE',
      'LARDER_ERR_MISSING_JOIN_KEY', 'LARDER_ERR_EXTRA_JOIN_KEY', 'LARDER_ERR_JOIN_KEY_TYPE', 'LARDER_ERR_ENTITY_LENGTHS',
      'LARDER_ERR_TOO_MANY_ENTITIES', 'LARDER_ERR_BODY_TOO_LARGE', 'LARDER_ERR_NOT_FOUND',
    ];
    for (const code of request) expect(ERROR_CATALOG[code].httpStatus, code).toBeLessThan(500);
  });

  it('a LarderError reads its status and exit code from the catalog', () => {
    const e = new LarderError('LARDER_ERR_OPTION', '--port (LARDER_PORT) must be an integer');
    expect([e.httpStatus, e.exitCode]).toEqual([400, 2]);
    expect(new LarderError('LARDER_ERR_TOO_MANY_ENTITIES', 'x').httpStatus).toBe(413);
    expect(new LarderError('LARDER_ERR_LISTEN', 'x').exitCode).toBe(1);
    expect(JSON.parse(JSON.stringify(e))).toEqual({ error: { code: 'LARDER_ERR_OPTION', message: '--port (LARDER_PORT) must be an integer' } });
  });
});

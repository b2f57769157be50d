/**
 * The admin token, checked once for every write (POST /push,
 * POST /admin/rollback): 403 LARDER_ERR_WRITES_OFF when the sidecar was
 * started without --admin-token, 401 LARDER_ERR_UNAUTHORIZED unless the
 * request carries it as `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { LarderError } from '../core/errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Throws 403 when writes are off, 401 unless `authorization` carries the token. */
export function checkAdminToken(token: string | undefined, authorization: string | undefined): void {
  if (token === undefined) {
    throw new LarderError('LARDER_ERR_WRITES_OFF', 'writes are off: start the sidecar with --admin-token (or LARDER_ADMIN_TOKEN) to accept them');
  }
  const m = /^Bearer\s+(.+)$/i.exec((authorization ?? '').trim());
  // Compared as digests, in constant time: the token's length leaks nothing either.
  if (!m || !timingSafeEqual(digest(m[1]!.trim()), digest(token))) {
    throw new LarderError('LARDER_ERR_UNAUTHORIZED', 'missing or wrong admin token: send "Authorization: Bearer <token>" with the --admin-token the sidecar was started with');
  }
}

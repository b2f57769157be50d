/**
 * The admin routes, behind `Authorization: Bearer <--admin-token>`: 403
 * when the sidecar has no token (admin is off), 401 for a missing or wrong
 * one. The token is compared in constant time.
 *
 *   POST /admin/rollback   {"version": N}   -> {"project", "from", "to"}
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { LarderError } from '../../core/errors.js';
import { type RollbackDeps, rollbackTo } from './rollback.js';

export const ADMIN_ROLLBACK_ROUTE = '/admin/rollback';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Throws 403/401 unless `header` carries the token. */
export function checkAdmin(token: string | undefined, header: string | undefined): void {
  if (token === undefined) throw new LarderError('LARDER_ERR_FORBIDDEN', 'admin routes are off: start the sidecar with --admin-token (LARDER_ADMIN_TOKEN) to use them');
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m || !timingSafeEqual(digest(m[1]!.trim()), digest(token))) {
    throw new LarderError('LARDER_ERR_UNAUTHORIZED', 'missing or wrong admin token: send "Authorization: Bearer <token>" with the --admin-token the sidecar was started with');
  }
}

export type Measured = (route: string, handler: (c: Context) => Response | Promise<Response>) => (c: Context) => Promise<Response>;

export function mountAdmin(app: Hono, measured: Measured, token: string | undefined, deps: RollbackDeps): void {
  app.post(ADMIN_ROLLBACK_ROUTE, measured(ADMIN_ROLLBACK_ROUTE, async (c) => {
    checkAdmin(token, c.req.header('authorization'));
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      throw new LarderError('LARDER_ERR_BAD_JSON', 'the body must be JSON: {"version": <number>}');
    }
    const version = (body as { version?: unknown } | null)?.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
      throw new LarderError('LARDER_ERR_BAD_REQUEST', 'the body must be {"version": <a bundle version, an integer >= 1>}');
    }
    const who = c.req.header('x-forwarded-for') ?? 'an admin client';
    return c.json(await rollbackTo(deps, version, who));
  }));
}

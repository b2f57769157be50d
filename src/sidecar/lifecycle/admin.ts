/**
 * The admin routes, behind `Authorization: Bearer <--admin-token>` (see
 * admin-token.ts: 403 when the sidecar has no token, 401 for a missing or
 * wrong one).
 *
 *   POST /admin/rollback   {"version": N}   -> {"project", "from", "to"}
 */
import type { Context, Hono } from 'hono';
import { LarderError } from '../../core/errors.js';
import { checkAdminToken } from '../admin-token.js';
import { type RollbackDeps, rollbackTo } from './rollback.js';

export const ADMIN_ROLLBACK_ROUTE = '/admin/rollback';

export type Measured = (route: string, handler: (c: Context) => Response | Promise<Response>) => (c: Context) => Promise<Response>;

export function mountAdmin(app: Hono, measured: Measured, token: string | undefined, deps: RollbackDeps): void {
  app.post(ADMIN_ROLLBACK_ROUTE, measured(ADMIN_ROLLBACK_ROUTE, async (c) => {
    checkAdminToken(token, c.req.header('authorization'));
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

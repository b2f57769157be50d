/**
 * POST /push, Feast's push endpoint, behind the admin token: refused (403)
 * when the sidecar was started without --admin-token (writes are off), and
 * (401) when the request does not carry it as `Authorization: Bearer`.
 * The body is checked whole (plan.ts) before anything is written; then the
 * rows go offline (a new Parquet file, offline.ts) and online (Redis and
 * the change stream, online.ts). Answers 200 with an empty body, as Feast.
 */
import { LarderError } from '../../core/errors.js';
import { checkAdminToken } from '../admin-token.js';
import { type Answer, type RouteDeps, errorAnswer } from '../online-route.js';
import { type HeaderReader, checkBodyHeaders, parseJson } from '../request-body.js';
import { pushDirectory, pushOffline } from './offline.js';
import type { OnlineTarget } from './online.js';
import { pushOnline } from './online.js';
import { planPush } from './plan.js';

export const PUSH_ROUTE = '/push';

export interface PushDeps {
  /** The bearer token writes need; undefined: writes are off. */
  adminToken: string | undefined;
  /** Where online pushes go, or undefined without Redis. */
  online: (() => OnlineTarget | undefined) | undefined;
  /** The feature repo folder for offline pushes, or undefined. */
  repoDir: string | undefined;
  /** Rows pushed, by destination, for /metrics. */
  counts: { online: number; offline: number };
}

export async function answerPush(deps: RouteDeps, push: PushDeps | undefined, header: HeaderReader, readBody: () => Promise<Uint8Array>): Promise<Answer> {
  try {
    checkAdminToken(push?.adminToken, header('authorization'));
    const p = push!;
    checkBodyHeaders(header, deps.limits.maxBodyBytes);
    const body = parseJson(await readBody());
    const state = deps.state.current;
    if (!state) throw new LarderError('LARDER_ERR_NOT_READY', `no bundle loaded: ${deps.state.notReadyReason}`);
    const plan = planPush({ views: state.catalog.views, repo: state.manifest.repo }, body);
    const online = plan.to !== 'offline';
    const offline = plan.to !== 'online';
    const target = online ? p.online?.() : undefined;
    if (online && !target) throw new LarderError('LARDER_ERR_WRITES_OFF', `pushes to online need Redis: this sidecar was started without --redis or --redis-cluster`);
    if (offline) {
      if (p.repoDir === undefined) throw new LarderError('LARDER_ERR_WRITES_OFF', 'pushes to offline need the feature repo: this sidecar was started without --repo');
      const where = pushDirectory(p.repoDir, plan.source);
      if ('problem' in where) throw new LarderError('LARDER_ERR_BAD_PUSH', where.problem);
    }
    if (plan.rows > 0) {
      if (offline) {
        await pushOffline(p.repoDir!, plan);
        p.counts.offline += plan.rows;
      }
      if (target) {
        try {
          await pushOnline(target, plan);
        } catch (e) {
          if (e instanceof LarderError) throw e;
          throw new LarderError('LARDER_ERR_REDIS', `Redis failed the push (${(e as Error).message})${offline ? '; the rows were written offline' : ''}; pushing again is safe`);
        }
        p.counts.online += plan.rows;
      }
    }
    return { status: 200, headers: { 'x-larder-bundle-version': state.versionHeader }, body: '' };
  } catch (err) {
    const answer = errorAnswer(deps, err, `POST ${PUSH_ROUTE}`);
    if (err instanceof LarderError && err.code === 'LARDER_ERR_UNAUTHORIZED') answer.headers['www-authenticate'] = 'Bearer';
    return answer;
  }
}

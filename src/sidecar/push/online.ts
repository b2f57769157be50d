/**
 * A push to online: each view's rows, encoded by the row encoder, written
 * to their keys (newest wins, as materialize writes), then appended to the
 * change stream that every sidecar tails. A Redis failure part way rejects
 * (the route answers 503); pushing again is safe, since a row never
 * replaces a newer one.
 */
import { type PackedRowValues, RowValueCodec, packedValue } from '../../core/bundle/row-value.js';
import { LarderError } from '../../core/errors.js';
import type { RedisClient } from '../redis/connection.js';
import { ViewKeys } from '../redis/keys.js';
import { writeRows } from '../redis/rows.js';
import { type PushedEntry, appendEntries } from '../stream/entries.js';
import type { PushPlan } from './plan.js';

export interface OnlineTarget {
  client: RedisClient;
  namespace: string;
  project: string;
  /** The change stream's length bound (XADD MAXLEN ~). */
  streamMaxLen: number;
  /** Resolves once the client can take commands (rejects after a bound). */
  ready?: () => Promise<void>;
}

export async function pushOnline(target: OnlineTarget, plan: PushPlan): Promise<{ written: number; kept: number }> {
  await target.ready?.();
  let written = 0;
  let kept = 0;
  const entries: PushedEntry[] = [];
  for (const vp of plan.views) {
    const codec = new RowValueCodec(vp.view.features);
    let values: PackedRowValues;
    try {
      values = codec.encodePacked(vp.keys, vp.eventTsMs, vp.createdTsMs, vp.columns);
    } catch (e) {
      if (e instanceof LarderError && e.code === 'LARDER_ERR_VALUE') throw new LarderError('LARDER_ERR_BAD_PUSH', `feature view "${vp.view.name}", ${e.message}`, { cause: e });
      throw e;
    }
    const r = await writeRows(target.client, new ViewKeys(target.namespace, target.project, vp.view.name, codec.fingerprint), vp.keys, values);
    written += r.written;
    kept += r.kept;
    vp.keys.forEach((key, i) => entries.push({ view: vp.view.name, layout: codec.fingerprint, key, value: packedValue(values, i) }));
  }
  await appendEntries(target.client, target.namespace, target.project, target.streamMaxLen, entries);
  return { written, kept };
}

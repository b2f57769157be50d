/**
 * The change stream of pushed rows (keys.ts names it): one stream entry per
 * pushed row, fields `v` (view), `l` (the row layout's fingerprint), `k`
 * (entity key) and `r` (the row value, as stored under the row's key).
 * The stream is capped near `maxLen` entries (XADD MAXLEN ~). Beside it, a
 * hash records per view the id of its last push, so a reader that finds
 * the stream trimmed knows which views it may have missed rows of.
 *
 * An entry id is `<ms>-<seq>`, ms from Redis's clock at the push.
 */
import type { RedisClient } from '../redis/connection.js';
import { pushedKey, streamKey } from '../redis/keys.js';
import { asBuffer } from '../redis/rows.js';

export interface PushedEntry {
  view: string;
  layout: string;
  key: string;
  value: Uint8Array;
}

/** Appends rows to the stream and records each view's last push; returns the last entry id. */
export async function appendEntries(client: RedisClient, namespace: string, project: string, maxLen: number, entries: readonly PushedEntry[]): Promise<string | undefined> {
  const stream = streamKey(namespace, project);
  const ids = await Promise.all(entries.map((e) => client.xadd(stream, 'MAXLEN', '~', maxLen, '*', 'v', e.view, 'l', e.layout, 'k', e.key, 'r', asBuffer(e.value))));
  const lastByView = new Map<string, string>();
  entries.forEach((e, i) => {
    const id = ids[i];
    if (id) lastByView.set(e.view, id);
  });
  if (lastByView.size > 0) await client.hset(pushedKey(namespace, project), Object.fromEntries(lastByView));
  return ids[ids.length - 1] ?? undefined;
}

/** An entry's fields as read with a *Buffer command; undefined when it is not one of ours. */
export function parseEntry(fields: readonly Buffer[]): PushedEntry | undefined {
  let view: string | undefined;
  let layout: string | undefined;
  let key: string | undefined;
  let value: Uint8Array | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString();
    const v = fields[i + 1]!;
    if (name === 'v') view = v.toString();
    else if (name === 'l') layout = v.toString();
    else if (name === 'k') key = v.toString();
    else if (name === 'r') value = v;
  }
  return view !== undefined && layout !== undefined && key !== undefined && value !== undefined ? { view, layout, key, value } : undefined;
}

/** The ms part of an entry id. */
export const idMs = (id: string): number => Number(id.split('-')[0]);

/** Compares two entry ids. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am !== bm ? am - bm : (as ?? 0) - (bs ?? 0);
}

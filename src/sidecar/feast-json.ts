/**
 * Serializes Feast's online-features response to JSON text, byte for byte
 * what JSON.stringify produces, about three times faster on Node 20: the
 * shape is fixed, statuses come from a closed set and event timestamps are
 * core-formatted RFC 3339 strings that need no escaping, so only feature
 * names and values go through the general encoder. This is the largest
 * single cost of answering a small request.
 */
import type { FieldStatus } from '../core/asof.js';
import type { OnlineFeaturesResponse } from '../core/feast.js';

const QUOTED_STATUS: Readonly<Record<FieldStatus, string>> = {
  PRESENT: '"PRESENT"',
  NULL_VALUE: '"NULL_VALUE"',
  NOT_FOUND: '"NOT_FOUND"',
  OUTSIDE_MAX_AGE: '"OUTSIDE_MAX_AGE"',
};

/** A timestamp as core formats it: digits, dashes, colons, a dot, T and Z only. */
const PLAIN_TIMESTAMP = /^[0-9T:.Z-]+$/;
const NONE = Symbol('none');

function valueJson(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? '' + v : 'null';
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // Strings and lists: the general encoder, so escaping is exactly JSON's.
  return JSON.stringify(v) ?? 'null';
}

function statusJson(s: FieldStatus): string {
  return QUOTED_STATUS[s] ?? valueJson(s);
}

function timestampJson(t: unknown): string {
  return typeof t === 'string' && PLAIN_TIMESTAMP.test(t) ? '"' + t + '"' : valueJson(t);
}

export function feastResponseJson(response: OnlineFeaturesResponse): string {
  const names = response.metadata.feature_names;
  let s = '{"metadata":{"feature_names":[';
  for (let i = 0; i < names.length; i++) s += (i === 0 ? '' : ',') + JSON.stringify(names[i]);
  s += ']},"results":[';
  const results = response.results;
  for (let r = 0; r < results.length; r++) {
    const { values, statuses, event_timestamps: stamps } = results[r]!;
    s += r === 0 ? '{"values":[' : ',{"values":[';
    for (let i = 0; i < values.length; i++) s += (i === 0 ? '' : ',') + valueJson(values[i]);
    s += '],"statuses":[';
    for (let i = 0; i < statuses.length; i++) s += (i === 0 ? '' : ',') + statusJson(statuses[i]!);
    s += '],"event_timestamps":[';
    // Neighbouring entities often share a stamp (the epoch for join keys and
    // NOT_FOUND): reuse the last one's JSON instead of checking it again.
    let last: unknown = NONE;
    let lastJson = '';
    for (let i = 0; i < stamps.length; i++) {
      const t = stamps[i];
      if (t !== last) {
        last = t;
        lastJson = timestampJson(t);
      }
      s += (i === 0 ? '' : ',') + lastJson;
    }
    s += ']}';
  }
  return s + ']}';
}

/**
 * A push, checked: Feast's /push body (or a file's rows, `larder push`)
 * against the target views' schemas, into the columns the row encoder and
 * the Parquet writer take. Every problem is reported before anything is
 * written, naming the row (counted from 0, as the `df` arrays are), the
 * column and what was wrong; nothing is half-written because of bad input.
 *
 *   { "push_source_name": "<view or source>",
 *     "df": { "<column>": [values, one per row], ... },
 *     "to": "online" | "offline" | "online_and_offline" }
 *
 * `push_source_name` names a feature view, or a source (every served view
 * reading it). `df` holds the join keys, the source's event time column
 * (and created time column, when it has one) and every feature of each
 * view; other columns are ignored, as Feast ignores them. Times are ISO
 * 8601 strings (no zone: UTC).
 */
import type { Dtype, JoinKeyDtype } from '../../core/dtypes.js';
import { LarderError } from '../../core/errors.js';
import { KEY_SEPARATOR, entityKeyString } from '../../core/keys.js';
import type { RepoDef, SourceDef } from '../../core/repo/types.js';
import type { ViewSpec } from '../../core/resolve/tier.js';

export type PushTo = 'online' | 'offline' | 'online_and_offline';
const TARGETS: readonly PushTo[] = ['online', 'offline', 'online_and_offline'];

export interface ViewPush {
  view: ViewSpec;
  keys: string[];
  eventTsMs: Float64Array;
  /** Undefined when the source has no created time column. */
  createdTsMs: (number | null)[] | undefined;
  /** One value array per feature, in definition order (timestamps as epoch ms). */
  columns: unknown[][];
}

/** A column of the pushed rows as the source holds it (for offline files). */
export interface PushColumn {
  name: string;
  /** 'event' and 'created' are timestamps (epoch ms values). */
  kind: { joinKey: JoinKeyDtype } | { feature: Dtype } | 'event' | 'created';
  values: unknown[];
}

export interface PushPlan {
  to: PushTo;
  rows: number;
  source: SourceDef;
  views: ViewPush[];
  /** The source's columns the rows fill, in order: join keys, times, features. */
  columns: PushColumn[];
}

export interface PushCatalog {
  views: ReadonlyMap<string, ViewSpec>;
  repo: RepoDef;
}

const bad = (message: string) => new LarderError('LARDER_ERR_BAD_PUSH', message);

/** ISO 8601 date-time (or date); no zone means UTC. Undefined when not one. */
export function parseIsoTime(s: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(s.trim());
  if (!m) return undefined;
  const [, date, time, zone] = m;
  const iso = time ? `${date}T${time.replace(/(\.\d{3})\d+$/, '$1')}${zone ?? 'Z'}` : `${date}T00:00:00Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  const [y, mo, d] = date!.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, mo - 1, d)).toISOString().slice(0, 10) === date ? ms : undefined;
}

const describe = (v: unknown): string => {
  if (v === null || v === undefined) return 'null';
  const json = JSON.stringify(v);
  const text = json === undefined ? String(v) : json.length > 40 ? `${json.slice(0, 40)}...` : json;
  return `${Array.isArray(v) ? 'array' : typeof v} ${text}`;
};

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * A feature value as the encoder takes it, or a string saying what is
 * wrong. Null is always allowed (NULL_VALUE); list elements may be null.
 */
function featureValue(dtype: Dtype, v: unknown): unknown | { problem: string } {
  if (v === null || v === undefined) return null;
  const element = (d: Dtype, x: unknown, what: string): unknown | { problem: string } => {
    if (x === null) return null;
    const r = featureValue(d, x);
    return typeof r === 'object' && r !== null && 'problem' in r ? { problem: `${what}: ${(r as { problem: string }).problem}` } : r;
  };
  switch (dtype) {
    case 'int64':
      return Number.isSafeInteger(v) ? v : { problem: `expected an integer within ±2^53 for int64, got ${describe(v)}` };
    case 'float32':
    case 'float64':
      return isNumber(v) ? v : { problem: `expected a number for ${dtype}, got ${describe(v)}` };
    case 'string':
      return typeof v === 'string' ? v : { problem: `expected a string, got ${describe(v)}` };
    case 'bool':
      return typeof v === 'boolean' ? v : { problem: `expected true or false for bool, got ${describe(v)}` };
    case 'timestamp': {
      const ms = typeof v === 'string' ? parseIsoTime(v) : undefined;
      return ms !== undefined ? ms : { problem: `expected an ISO 8601 time for timestamp, got ${describe(v)}` };
    }
    case 'float32[]':
    case 'int64[]':
    case 'string[]': {
      if (!Array.isArray(v)) return { problem: `expected an array for ${dtype}, got ${describe(v)}` };
      const of: Dtype = dtype === 'float32[]' ? 'float32' : dtype === 'int64[]' ? 'int64' : 'string';
      const out = new Array<unknown>(v.length);
      for (let j = 0; j < v.length; j++) {
        const r = element(of, v[j], `element ${j}`);
        if (typeof r === 'object' && r !== null && 'problem' in r) return r;
        out[j] = r;
      }
      return out;
    }
  }
}

/** The views a push names: a view by name, or every served view reading a source of that name. */
function targetViews(catalog: PushCatalog, name: string): ViewSpec[] {
  const view = catalog.views.get(name);
  if (view) return [view];
  const views = [...catalog.views.values()].filter((v) => v.def.source === name);
  if (views.length > 0) return views;
  const known = [...new Set([...catalog.views.keys(), ...[...catalog.views.values()].map((v) => v.def.source)])].sort();
  throw new LarderError('LARDER_ERR_UNKNOWN_VIEW', `push_source_name "${name}" is neither a served feature view nor a source of one (known: ${known.join(', ')})`);
}

/** Checks a push body against the catalog and returns the rows to write. Throws a 4xx LarderError. */
export function planPush(catalog: PushCatalog, body: unknown): PushPlan {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object with push_source_name, df and to');
  const b = body as Record<string, unknown>;
  if (typeof b.push_source_name !== 'string' || b.push_source_name === '') throw bad('push_source_name must be the name of a feature view or of its source');
  const toRaw = b.to ?? 'online';
  const to = typeof toRaw === 'string' ? (toRaw.toLowerCase() as PushTo) : undefined;
  if (!to || !TARGETS.includes(to)) throw bad(`to must be one of ${TARGETS.map((t) => `"${t}"`).join(', ')}, got ${describe(toRaw)}`);
  const df = b.df;
  if (typeof df !== 'object' || df === null || Array.isArray(df)) throw bad('df must be an object of columns: { "column": [one value per row], ... }');
  const dfColumns = df as Record<string, unknown>;

  const views = targetViews(catalog, b.push_source_name);
  const source = catalog.repo.sources.find((s) => s.name === views[0]!.def.source);
  if (!source) throw new LarderError('LARDER_ERR_CONFIG', `feature view "${views[0]!.name}" names source "${views[0]!.def.source}", which the bundle does not define`);

  // The columns the rows must carry, once each.
  const needed = new Map<string, PushColumn['kind']>();
  for (const v of views) for (const jk of v.joinKeys) needed.set(jk.name, { joinKey: jk.dtype });
  needed.set(source.timestampField, 'event');
  if (source.createdTimestampField) needed.set(source.createdTimestampField, 'created');
  for (const v of views) for (const f of v.features) if (!needed.has(f.name)) needed.set(f.name, { feature: f.dtype });

  let rows = -1;
  let rowsFrom = '';
  const missing: string[] = [];
  for (const name of needed.keys()) {
    const col = dfColumns[name];
    if (col === undefined) {
      missing.push(name);
      continue;
    }
    if (!Array.isArray(col)) throw bad(`df column "${name}" must be an array of values, one per row, got ${describe(col)}`);
    if (rows === -1) {
      rows = col.length;
      rowsFrom = name;
    } else if (col.length !== rows) throw bad(`df column "${name}" has ${col.length} rows, but column "${rowsFrom}" has ${rows}; every column needs one value per row`);
  }
  if (missing.length > 0) {
    throw bad(`df lacks column(s) ${missing.map((m) => `"${m}"`).join(', ')} that ${views.map((v) => `feature view "${v.name}"`).join(' and ')} needs (join keys, the source's time columns and every feature)`);
  }

  const problems: string[] = [];
  const report = (row: number, column: string, what: string) => {
    if (problems.length < 5) problems.push(`row ${row}, column "${column}": ${what}`);
  };
  const columns: PushColumn[] = [];
  for (const [name, kind] of needed) {
    const raw = dfColumns[name] as unknown[];
    const values = new Array<unknown>(rows);
    for (let r = 0; r < rows; r++) {
      const v = raw[r];
      if (kind === 'event' || kind === 'created') {
        if ((v === null || v === undefined) && kind === 'created') values[r] = null;
        else {
          const ms = typeof v === 'string' ? parseIsoTime(v) : undefined;
          if (ms === undefined) report(r, name, `expected an ISO 8601 time (e.g. 2026-01-01T12:00:00Z) for the ${kind === 'event' ? 'event' : 'created'} time, got ${describe(v)}`);
          values[r] = ms;
        }
      } else if ('joinKey' in kind) {
        if (kind.joinKey === 'int64' ? !Number.isSafeInteger(v) : typeof v !== 'string') {
          report(r, name, `expected ${kind.joinKey === 'int64' ? 'an integer within ±2^53' : 'a string'} for join key "${name}", got ${describe(v)}`);
        } else if (typeof v === 'string' && v.includes(KEY_SEPARATOR)) report(r, name, 'a join key must not contain U+001F');
        values[r] = v;
      } else {
        const out = featureValue(kind.feature, v);
        if (typeof out === 'object' && out !== null && 'problem' in out && !Array.isArray(out)) report(r, name, (out as { problem: string }).problem);
        values[r] = out;
      }
    }
    columns.push({ name, kind, values });
  }
  if (problems.length > 0) throw bad(`push to "${b.push_source_name}" refused, nothing was written: ${problems.join('; ')}`);

  const byName = new Map(columns.map((c) => [c.name, c.values]));
  const event = byName.get(source.timestampField)!;
  const created = source.createdTimestampField ? byName.get(source.createdTimestampField)! : undefined;
  return {
    to,
    rows,
    source,
    columns,
    views: views.map((view) => {
      const joinValues = view.joinKeys.map((jk) => byName.get(jk.name)!);
      const keys = new Array<string>(rows);
      for (let r = 0; r < rows; r++) keys[r] = entityKeyString(joinValues.map((c) => c[r] as string | number));
      return {
        view,
        keys,
        eventTsMs: Float64Array.from(event as number[]),
        createdTsMs: created as (number | null)[] | undefined,
        columns: view.features.map((f) => byName.get(f.name)!),
      };
    }),
  };
}

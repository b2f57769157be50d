/**
 * The hot keys file (`--hot-keys`): which entity keys a bundle holds.
 *
 * Format, one record per line, comma-separated (fields may be "quoted";
 * blank lines and lines starting with `#` are skipped):
 *   - plain:        `key`           keys in priority order; --hot-limit N keeps the first N.
 *   - counted:      `key,count`     --hot-limit N keeps the N largest counts (ties: file order).
 *   - with a header naming join key columns (and optionally `count`):
 *                   `city,driver_id,count` then `Paris,42,1200` ...
 *     A header is needed for composite keys. The first line is a header
 *     when every field in it is `count` or a join key column of the repo.
 * Keys are written as larder's canonical key parts: an integer key as its
 * decimal digits, a string key as is. Repeated keys are merged (counts add).
 *
 * Which views the file limits: with a header, the views whose join key
 * columns are exactly the header's key columns (in any order); without one,
 * the views with a single join key column. Other views keep all their keys;
 * the build summary lists which views were limited and which were not.
 */
import { readFile } from 'node:fs/promises';
import { LarderError } from '../src/core/errors.js';

export interface HotKeys {
  file: string;
  /** Key column names from the header; null without a header. */
  columns: string[] | null;
  counted: boolean;
  /** Distinct keys in the file. */
  distinct: number;
  /** The keys kept after --hot-limit, each as its parts in `columns` order. */
  keys: string[][];
}

const fail = (file: string, line: number | null, msg: string) =>
  new LarderError('LARDER_ERR_SOURCE', `hot keys file ${file}${line === null ? '' : `, line ${line}`}: ${msg}`);

/** Splits one line into fields; `"a,b"` is one field and `""` inside quotes is a quote. */
export function splitFields(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return undefined; // unterminated quote
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') return undefined;
    } else {
      const end = line.indexOf(',', i);
      field = (end < 0 ? line.slice(i) : line.slice(i, end)).trim();
      i = end < 0 ? line.length : end;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

const isCount = (s: string) => /^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(s);

/**
 * Parses hot keys. `joinKeyColumns` are the join key columns of the repo's
 * views (to recognise a header); `limit` is --hot-limit (Infinity = all).
 */
export function parseHotKeys(text: string, file: string, joinKeyColumns: ReadonlySet<string>, limit: number): HotKeys {
  const lines: { no: number; fields: string[] }[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
    const fields = splitFields(raw);
    if (!fields) throw fail(file, idx + 1, 'unterminated quoted field');
    lines.push({ no: idx + 1, fields });
  });

  let columns: string[] | null = null;
  let countAt = -1;
  const first = lines[0];
  if (first && first.fields.every((f) => f === 'count' || joinKeyColumns.has(f))) {
    const header = first.fields;
    countAt = header.indexOf('count');
    if (header.lastIndexOf('count') !== countAt) throw fail(file, first.no, 'header names "count" twice');
    columns = header.filter((f) => f !== 'count');
    if (columns.length === 0) throw fail(file, first.no, 'header names no join key column');
    if (new Set(columns).size !== columns.length) throw fail(file, first.no, 'header names a join key column twice');
    lines.shift();
  }

  const width = columns ? columns.length + (countAt >= 0 ? 1 : 0) : (lines[0]?.fields.length ?? 1);
  if (!columns) {
    if (width === 2 && isCount(lines[0]!.fields[1]!)) countAt = 1;
    else if (width !== 1) {
      throw fail(file, lines[0]!.no, `expected "key" or "key,count" lines (or a header line naming the join key columns for composite keys), got ${width} fields`);
    }
  }

  const byKey = new Map<string, { parts: string[]; count: number; order: number }>();
  for (const { no, fields } of lines) {
    if (fields.length !== width) throw fail(file, no, `expected ${width} fields like the ${columns ? 'header' : 'first line'}, got ${fields.length}`);
    let count = 0;
    if (countAt >= 0) {
      const c = fields[countAt]!;
      if (!isCount(c)) throw fail(file, no, `count ${JSON.stringify(c)} is not a number >= 0`);
      count = Number(c);
    }
    const parts = countAt >= 0 ? fields.filter((_, i) => i !== countAt) : fields;
    if (parts.some((p) => p === '')) throw fail(file, no, 'empty key');
    const id = parts.join('\u001f');
    const seen = byKey.get(id);
    if (seen) seen.count += count;
    else byKey.set(id, { parts, count, order: byKey.size });
  }

  const entries = [...byKey.values()];
  if (countAt >= 0) entries.sort((a, b) => b.count - a.count || a.order - b.order);
  const kept = Number.isFinite(limit) ? entries.slice(0, Math.max(0, limit)) : entries;
  return { file, columns, counted: countAt >= 0, distinct: entries.length, keys: kept.map((e) => e.parts) };
}

/** How long fetching a sidecar's hot keys may take. */
const HOT_KEYS_FETCH_MS = 30_000;

/**
 * Reads hot keys from a file, or from an http(s) URL: a sidecar's
 * `GET /hot-keys?view=<view>&format=csv` answers this same format, with a
 * header naming the view's join keys (src/sidecar/lifecycle/hot-keys.ts).
 */
export async function readHotKeys(file: string, joinKeyColumns: ReadonlySet<string>, limit: number): Promise<HotKeys> {
  let text: string;
  if (/^https?:\/\//i.test(file)) {
    let res: Response;
    try {
      res = await fetch(file, { signal: AbortSignal.timeout(HOT_KEYS_FETCH_MS) });
      text = await res.text();
    } catch (e) {
      throw fail(file, null, `cannot fetch: ${(e as Error).message}`);
    }
    if (!res.ok) throw fail(file, null, `answered ${res.status}: ${text.slice(0, 300)}`);
    return parseHotKeys(text, file, joinKeyColumns, limit);
  }
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw fail(file, null, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  return parseHotKeys(text, file, joinKeyColumns, limit);
}

/**
 * The file's keys as parts in the view's join key order, or undefined when
 * the file does not apply to a view with these join key columns.
 */
export function hotKeysForView(hot: HotKeys, viewJoinKeys: readonly string[]): string[][] | undefined {
  if (!hot.columns) return viewJoinKeys.length === 1 ? hot.keys : undefined;
  if (hot.columns.length !== viewJoinKeys.length || !viewJoinKeys.every((k) => hot.columns!.includes(k))) return undefined;
  const order = viewJoinKeys.map((k) => hot.columns!.indexOf(k));
  return hot.keys.map((parts) => order.map((i) => parts[i]!));
}

/**
 * The feature catalog of a repo: every feature with its view's metadata,
 * filtered by a search text and printed as a table. Reads only the config,
 * never the data.
 */
import type { Dtype } from '../src/core/dtypes.js';
import type { RepoDef } from '../src/core/repo/types.js';

export interface CatalogEntry {
  view: string;
  feature: string;
  dtype: Dtype;
  entities: string[];
  source: string;
  ttlSeconds: number;
  online: boolean;
  owner?: string;
  tags: Record<string, string>;
  /** The feature's description, else its view's. */
  description?: string;
  viewDescription?: string;
  default?: unknown;
}

export function catalogEntries(repo: RepoDef): CatalogEntry[] {
  return repo.featureViews.flatMap((v) =>
    v.features.map((f) => {
      const e: CatalogEntry = {
        view: v.name,
        feature: f.name,
        dtype: f.dtype,
        entities: v.entities,
        source: v.source,
        ttlSeconds: v.ttlSeconds,
        online: v.online !== false,
        tags: v.tags ?? {},
      };
      if (v.owner !== undefined) e.owner = v.owner;
      if (f.description !== undefined) e.description = f.description;
      if (v.description !== undefined) e.viewDescription = v.description;
      if (f.default !== undefined) e.default = f.default;
      return e;
    }),
  );
}

/**
 * Entries matching `query` (case-insensitive substring) in the view or
 * feature name, either description, or a tag key, value or "key=value".
 */
export function filterCatalog(entries: CatalogEntry[], query: string | undefined): CatalogEntry[] {
  if (!query) return entries;
  const q = query.toLowerCase();
  const has = (s: string | undefined) => s !== undefined && s.toLowerCase().includes(q);
  return entries.filter(
    (e) =>
      has(e.view) || has(e.feature) || has(e.description) || has(e.viewDescription) ||
      Object.entries(e.tags).some(([k, v]) => has(k) || has(v) || has(`${k}=${v}`)),
  );
}

/** 0 -> "never", 90061 -> "1d1h1m1s". */
export function formatTtl(ttlSeconds: number): string {
  if (ttlSeconds === 0) return 'never';
  let rest = ttlSeconds;
  let out = '';
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  if (rest > 0 || out === '') out += `${Number(rest.toFixed(3))}s`;
  return out;
}

const tagsText = (tags: Record<string, string>) => Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(', ');

/**
 * Readable text: per view a heading line with its metadata, then its
 * features as a table whose columns line up across all views.
 */
export function formatCatalog(entries: CatalogEntry[]): string {
  if (entries.length === 0) return '(no matching features)';
  const header = ['FEATURE', 'DTYPE', 'DEFAULT', 'DESCRIPTION'];
  const cells = (e: CatalogEntry) => [
    e.feature,
    e.dtype,
    e.default === undefined ? '-' : JSON.stringify(e.default),
    (e.description ?? '-').replace(/\s+/g, ' '),
  ];
  const widths = header.map((h, c) => Math.max(h.length, ...entries.map((e) => cells(e)[c]!.length)));
  const row = (r: string[]) => '    ' + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  const out: string[] = [];
  const views = [...new Set(entries.map((e) => e.view))];
  for (const view of views) {
    const features = entries.filter((e) => e.view === view);
    const v = features[0]!;
    out.push(`${view}${v.viewDescription ? ` - ${v.viewDescription.replace(/\s+/g, ' ')}` : ''}`);
    const meta = [
      `entities: ${v.entities.join(', ')}`,
      `source: ${v.source}`,
      `ttl: ${formatTtl(v.ttlSeconds)}`,
      `online: ${v.online ? 'yes' : 'no'}`,
      `owner: ${v.owner ?? '-'}`,
      `tags: ${tagsText(v.tags) || '-'}`,
    ];
    out.push(`  ${meta.join('  ')}`);
    out.push(row(header), ...features.map((e) => row(cells(e))), '');
  }
  out.push(`${entries.length} feature(s) in ${views.length} view(s)`);
  return out.join('\n');
}

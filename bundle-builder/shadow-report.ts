/**
 * The shadow comparison as a report: a self-contained HTML page (no
 * scripts, no external files: it opens from disk and from CI artifacts), a
 * Markdown page for pull requests, JSON for tools, and the short text the
 * command prints. The column meanings are written once (COLUMNS) and shown
 * in every form.
 */
import { CAUSES, type Cause } from '../src/core/shadow/compare.js';
import type { Example, FeatureSummary } from '../src/core/shadow/summary.js';
import type { ShadowResult } from './shadow.js';

/** What each column of the per-feature table means (README's "Read the shadow report" repeats it). */
export const COLUMNS: readonly [string, string][] = [
  ['feature', 'view:feature, as the sidecar served it'],
  ['compared', 'logged values recomputed offline at their request time'],
  ['equal', 'served value equals the training value (float32 at float32 precision, lists element-wise, within the tolerance)'],
  ['mismatched', 'compared minus equal'],
  ['missing', 'mismatched: the sidecar served a hole (its default), offline has a value'],
  ['extra', 'mismatched: the sidecar served a value, offline has a hole'],
  ['stale', 'offline has a newer row than the one served, written after the bundle\'s as_of, or not yet materialized or pushed to the online store that served it'],
  ['ttl', 'the served row passed its TTL between the bundle\'s as_of and the request while offline a newer row is fresh, or --serve-stale answered a stale value where training reads the default'],
  ['skew', 'the same source row (event and created time) with a different value on the two paths: a bug'],
  ['not held', 'no tier held the key (hot keys only, nothing behind the bundle)'],
  ['unexplained', 'any other difference, e.g. a served row newer than any offline row: investigate'],
  ['mean abs diff', 'mean |served - training| over the pairs of numbers (timestamps in ms; lists: largest element difference)'],
  ['max abs diff', 'largest |served - training|'],
  ['SMAPE', 'mean of |a - b| / ((|a| + |b|) / 2) over pairs of plain numbers, in percent (0 to 200)'],
];

export const CAUSE_LABEL: Record<Cause, string> = { stale: 'stale', ttl: 'ttl', skew: 'skew', not_held: 'not held', unexplained: 'unexplained' };
const CAUSE_COLOR: Record<Cause | 'equal', string> = { equal: '#3a9d5d', stale: '#e0a526', ttl: '#4a7fd1', skew: '#d64545', not_held: '#9a9a9a', unexplained: '#8e44ad' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const pct = (part: number, whole: number): string => (whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(part === whole || part === 0 ? 0 : 2)}%`);
/** A number to 4 significant digits, without trailing zeros. */
const num = (v: number | null): string => (v === null ? '' : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4))));
const time = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString());

/** A value as short text: JSON, cut to 60 characters. */
function valueText(v: unknown): string {
  const s = v === undefined ? 'null' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const entityText = (e: Record<string, string | number>): string => Object.entries(e).map(([k, v]) => `${k}=${v}`).join(', ');

function verdictText(r: ShadowResult): string {
  const limit = `${(100 * r.maxMismatch).toFixed(2)}%`;
  return r.verdict.pass ? `PASS: no feature's skew or unexplained rate is above ${limit}` : `FAIL: ${r.verdict.failures.length} feature(s) above ${limit}`;
}

/** The stacked bar of one feature: equal, then each cause, widths by share of compared. */
function bar(f: FeatureSummary, width = 240): string {
  const parts: [Cause | 'equal', number][] = [['equal', f.equal], ...CAUSES.map((c): [Cause, number] => [c, f.causes[c]])];
  let x = 0;
  const rects = parts.map(([part, count]) => {
    const w = f.compared === 0 ? 0 : (width * count) / f.compared;
    const label = part === 'equal' ? 'equal' : CAUSE_LABEL[part];
    const rect = `<rect data-part="${part}" data-count="${count}" x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="14" fill="${CAUSE_COLOR[part]}"><title>${label}: ${count} (${pct(count, f.compared)})</title></rect>`;
    x += w;
    return rect;
  });
  return `<svg class="bar" role="img" aria-label="${esc(f.feature)}: ${parts.map(([p, c]) => `${p === 'equal' ? 'equal' : CAUSE_LABEL[p]} ${c}`).join(', ')}" width="${width}" height="14" viewBox="0 0 ${width} 14">${rects.join('')}</svg>`;
}

function featureCells(f: FeatureSummary): string[] {
  return [
    f.feature, f.dtype, String(f.compared), String(f.equal), String(f.mismatched), String(f.missing), String(f.extra),
    ...CAUSES.map((c) => String(f.causes[c])), num(f.meanAbsDiff), num(f.maxAbsDiff), f.smape === null ? '' : `${f.smape.toFixed(3)}%`,
  ];
}

const FEATURE_HEADERS = ['feature', 'type', 'compared', 'equal', 'mismatched', 'missing', 'extra', ...CAUSES.map((c) => CAUSE_LABEL[c]), 'mean abs diff', 'max abs diff', 'SMAPE'];
const EXAMPLE_HEADERS = ['cause', 'feature', 'entity', 'request time', 'served', 'served row', 'training', 'offline row', 'abs diff'];

function exampleCells(e: Example): string[] {
  const rowText = (s: { eventMs: number | null; createdMs: number | null }) => (s.eventMs === null ? 'none' : `event ${time(s.eventMs)}${s.createdMs === null ? '' : `, created ${time(s.createdMs)}`}`);
  return [
    CAUSE_LABEL[e.cause], e.feature, entityText(e.entity), time(e.requestMs),
    `${valueText(e.served.value)} (${e.served.status}, ${e.served.tier}, bundle v${e.bundleVersion})`, rowText(e.served),
    `${valueText(e.offline.value)} (${e.offline.status})`, rowText(e.offline), num(e.absDiff),
  ];
}

/** Examples by cause, worst cause first, at most `per` each, across features. */
function examplesByCause(r: ShadowResult, per = 5): [Cause, Example[]][] {
  const order: Cause[] = ['skew', 'unexplained', 'ttl', 'stale', 'not_held'];
  return order
    .map((c): [Cause, Example[]] => [c, r.summary.features.flatMap((f) => f.examples.filter((e) => e.cause === c)).slice(0, per)])
    .filter(([, list]) => list.length > 0);
}

function facts(r: ShadowResult): [string, string][] {
  const s = r.summary;
  return [
    ['served log', `${r.servedDir} (${r.files.length} file${r.files.length === 1 ? '' : 's'})`],
    ['entities logged', String(s.records)],
    ['values compared', `${s.compared}: ${s.equal} equal (${pct(s.equal, s.compared)}), ${s.mismatched} mismatched`],
    ['mismatches by cause', CAUSES.map((c) => `${CAUSE_LABEL[c]} ${s.causes[c]}`).join(', ')],
    ['requests', s.firstRequestMs === null ? 'none' : `${time(s.firstRequestMs)} to ${time(s.lastRequestMs)}`],
    ['bundle versions', s.bundleVersions.map((v) => `v${v}`).join(', ') || 'none'],
    ['tolerance', `abs ${r.tolerance.abs}, rel ${r.tolerance.rel}`],
    ['max mismatch', `${(100 * r.maxMismatch).toFixed(2)}% skew or unexplained per feature`],
  ];
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: .3rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.verdict { font-weight: 600; padding: .4rem .7rem; border-radius: 4px; display: inline-block; }
.pass { background: #e3f4e8; color: #1d6b39; } .fail { background: #fbe4e4; color: #9b1c1c; }
table { border-collapse: collapse; margin-top: .5rem; } th, td { border-bottom: 1px solid #ddd; padding: .25rem .55rem; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td:first-child, th:first-child, td.text, .examples th { text-align: left; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; } dt { color: #666; } dd { margin: 0; }
.legend span { display: inline-block; margin-right: 1rem; } .legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
.failures li { color: #9b1c1c; }
`;

export function renderShadowHtml(r: ShadowResult): string {
  const s = r.summary;
  const rows = s.features.map((f) => `<tr data-feature="${esc(f.feature)}">${featureCells(f).map((c, i) => `<td${i < 2 ? ' class="text"' : ''}>${esc(c)}</td>`).join('')}<td>${bar(f)}</td></tr>`);
  const exampleTable = (list: Example[], id: string) =>
    `<table id="${id}" class="examples"><thead><tr>${EXAMPLE_HEADERS.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${list.map((e) => `<tr data-cause="${e.cause}">${exampleCells(e).map((c) => `<td class="text">${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const legend = (['equal', ...CAUSES] as const).map((p) => `<span><i style="background:${CAUSE_COLOR[p]}"></i>${p === 'equal' ? 'equal' : CAUSE_LABEL[p]}</span>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>larder shadow: ${esc(r.project)}</title><style>${STYLE}</style></head>
<body>
<h1>Served vs trained: ${esc(r.project)}</h1>
<p id="verdict" class="verdict ${r.verdict.pass ? 'pass' : 'fail'}">${esc(verdictText(r))}</p>
${r.verdict.failures.length > 0 ? `<ul class="failures">${r.verdict.failures.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : ''}
<dl class="facts">${facts(r).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
<h2>Per feature</h2>
<p class="legend">${legend}</p>
<table id="features"><thead><tr>${FEATURE_HEADERS.map((h) => `<th>${esc(h)}</th>`).join('')}<th>equal and causes</th></tr></thead><tbody>${rows.join('')}</tbody></table>
<h2>Worst differences</h2>
${s.worst.length === 0 ? '<p id="no-differences">None: every served value equals its training value.</p>' : exampleTable(s.worst, 'worst')}
<h2>Examples by cause</h2>
${examplesByCause(r).map(([c, list]) => `<h3>${esc(CAUSE_LABEL[c])}</h3>${exampleTable(list, `examples-${c}`)}`).join('\n') || '<p>None.</p>'}
${r.warnings.length > 0 ? `<h2>Warnings</h2><ul>${r.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}
<h2>How to read this report</h2>
<dl class="facts" id="columns">${COLUMNS.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
</body></html>
`;
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const mdTable = (headers: readonly string[], rows: readonly string[][]): string =>
  [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)].join('\n');

export function renderShadowMarkdown(r: ShadowResult): string {
  const s = r.summary;
  const parts = [
    `# Served vs trained: ${r.project}`,
    `**${verdictText(r)}**`,
    ...(r.verdict.failures.length > 0 ? [r.verdict.failures.map((f) => `- ${f}`).join('\n')] : []),
    facts(r).map(([k, v]) => `- ${k}: ${v}`).join('\n'),
    '## Per feature',
    mdTable(FEATURE_HEADERS, s.features.map(featureCells)),
    '## Worst differences',
    s.worst.length === 0 ? 'None: every served value equals its training value.' : mdTable(EXAMPLE_HEADERS, s.worst.map(exampleCells)),
    ...(r.warnings.length > 0 ? ['## Warnings', r.warnings.map((w) => `- ${w}`).join('\n')] : []),
    '## How to read this report',
    COLUMNS.map(([k, v]) => `- **${k}**: ${v}`).join('\n'),
  ];
  return parts.join('\n\n') + '\n';
}

export function renderShadowJson(r: ShadowResult): string {
  return JSON.stringify(r, null, 2) + '\n';
}

/** The short text the command prints: verdict, totals and the per-feature counts. */
export function formatShadowSummary(r: ShadowResult): string {
  const s = r.summary;
  const headers = ['feature', 'compared', 'equal', ...CAUSES.map((c) => CAUSE_LABEL[c])];
  const rows = [headers, ...s.features.map((f) => [f.feature, String(f.compared), String(f.equal), ...CAUSES.map((c) => String(f.causes[c]))])];
  const widths = headers.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = [verdictText(r), `${s.compared} values of ${s.records} logged entities compared: ${s.equal} equal, ${s.mismatched} mismatched`];
  for (const row of rows) lines.push('  ' + row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
  for (const f of r.verdict.failures) lines.push(`  - ${f}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

/**
 * `larder shadow <repo> --served <dir> [--tolerance <abs,rel>] [--max-mismatch <rate>] [--out <report>]`.
 * Exit codes: 0 the comparison passed; 1 a feature's skew or unexplained
 * rate is above --max-mismatch (or the comparison could not run: the
 * message says why); 2 bad options.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Tolerance } from '../../src/core/shadow/compare.js';
import { formatShadowSummary, renderShadowHtml, renderShadowJson, renderShadowMarkdown } from '../shadow-report.js';
import { type ShadowResult, runShadow } from '../shadow.js';

const HELP = `usage: larder shadow <repo> --served <dir> [options]

Proves, value by value, that what the sidecar served is what training reads:
for every (entity, feature) in the served-value log (larder serve
--log-served <dir>), recomputes the training value at the request time from
the offline data, compares, and names the cause of each difference
(stale, ttl, skew, not held, unexplained).

options:
  --served <dir>          (required) the sidecar's --log-served directory (its *.ndjson files)
  --tolerance <abs,rel>   numbers within abs, or within rel x the larger, are equal (default 0,0:
                          exact at the feature's precision; float32 as float32)
  --max-mismatch <rate>   fail (exit 1) when any feature's skew or unexplained rate is above this:
                          a fraction (0.001) or a percentage (0.1%); default 0
  --out <file>            write the report: .html (a page to read), .md or .json
  --threads <n>           DuckDB worker threads (LARDER_THREADS; default all cores)
  --json                  print the whole result as JSON instead of the summary
  -h, --help              show this help

Exit codes: 0 passed, 1 failed the limit (or could not run), 2 bad options.`;

class UsageError extends Error {}

interface ShadowArgs {
  help: boolean;
  json: boolean;
  repoDir: string;
  servedDir: string;
  tolerance: Tolerance;
  maxMismatch: number;
  out?: string;
  threads?: number;
}

const NUMBER = /^\s*\d+(\.\d*)?([eE][-+]?\d+)?\s*$/;

export function parseTolerance(s: string): Tolerance {
  const parts = s.split(',');
  if (parts.length > 2 || !parts.every((p) => NUMBER.test(p))) throw new UsageError(`--tolerance ${JSON.stringify(s)} must be "abs" or "abs,rel": numbers >= 0 (e.g. 0.001,0.01)`);
  return { abs: Number(parts[0]), rel: parts.length === 2 ? Number(parts[1]) : 0 };
}

export function parseRate(s: string): number {
  const percent = s.trim().endsWith('%');
  const text = percent ? s.trim().slice(0, -1) : s;
  const n = NUMBER.test(text) ? Number(text) / (percent ? 100 : 1) : NaN;
  if (!(n >= 0 && n <= 1)) throw new UsageError(`--max-mismatch ${JSON.stringify(s)} must be a rate from 0 to 1 (0.001) or a percentage (0.1%)`);
  return n;
}

const REPORT_FORMATS: [RegExp, (r: ShadowResult) => string][] = [
  [/\.html?$/i, renderShadowHtml],
  [/\.md$/i, renderShadowMarkdown],
  [/\.json$/i, renderShadowJson],
];

export function parseShadowArgs(argv: string[], env: NodeJS.ProcessEnv): ShadowArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        served: { type: 'string' },
        tolerance: { type: 'string' },
        'max-mismatch': { type: 'string' },
        out: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true, json: false, repoDir: '', servedDir: '', tolerance: { abs: 0, rel: 0 }, maxMismatch: 0 };
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing <repo> (the feature repo folder)' : `expected one <repo>, got ${positionals.length}: ${positionals.join(' ')}`);
  if (!values.served) throw new UsageError('missing --served <dir> (the sidecar\'s --log-served directory)');
  const args: ShadowArgs = {
    help: false,
    json: values.json ?? false,
    repoDir: positionals[0]!,
    servedDir: values.served,
    tolerance: values.tolerance === undefined ? { abs: 0, rel: 0 } : parseTolerance(values.tolerance),
    maxMismatch: values['max-mismatch'] === undefined ? 0 : parseRate(values['max-mismatch']),
  };
  if (values.out !== undefined) {
    if (!REPORT_FORMATS.some(([re]) => re.test(values.out!))) throw new UsageError(`--out ${values.out}: the report is .html, .md or .json`);
    args.out = values.out;
  }
  const threads = values.threads ?? (env.LARDER_THREADS || undefined);
  if (threads !== undefined) {
    if (!/^\d+$/.test(threads.trim()) || Number(threads) < 1) throw new UsageError(`--threads ${JSON.stringify(threads)} must be an integer >= 1`);
    args.threads = Number(threads);
  }
  return args;
}

export async function run(argv: string[]): Promise<number> {
  let args: ShadowArgs;
  try {
    args = parseShadowArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`larder shadow: ${e.message}\nRun "larder shadow --help" for the options.`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const result = await runShadow({
    repoDir: args.repoDir,
    servedDir: args.servedDir,
    tolerance: args.tolerance,
    maxMismatch: args.maxMismatch,
    threads: args.threads,
    onProgress: (p) => process.stderr.write(p.phase === 'warning' ? `larder: warning: ${p.message}\n` : `  ${p.message}\n`),
  });
  if (args.out) {
    const render = REPORT_FORMATS.find(([re]) => re.test(args.out!))![1];
    await writeFile(args.out, render(result));
  }
  console.log(args.json ? renderShadowJson(result).trimEnd() : formatShadowSummary(result) + (args.out ? `\nreport: ${args.out}` : ''));
  return result.verdict.pass ? 0 : 1;
}

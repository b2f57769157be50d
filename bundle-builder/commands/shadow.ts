/**
 * `larder shadow <repo> --served <dir> [--tolerance <abs,rel>] [--max-mismatch <rate>] [--out <report>]`.
 * Exit codes: 0 the comparison passed; 1 a feature's skew or unexplained
 * rate is above --max-mismatch (or the comparison could not run: the
 * message says why); 2 bad options.
 */
import { writeFile } from 'node:fs/promises';
import type { Tolerance } from '../../src/core/shadow/compare.js';
import { type CommandSpec, type Invalid, type OptionSpec, type ParsedCommand, helpText, nonEmpty, parseCommand, switchValue } from '../../src/option-table.js';
import { formatShadowSummary, renderShadowHtml, renderShadowJson, renderShadowMarkdown } from '../shadow-report.js';
import { type ShadowResult, runShadow } from '../shadow.js';
import { BUILD_OPTIONS } from './build.js';

export interface ShadowArgs {
  repoDir: string;
  servedDir: string;
  tolerance: Tolerance;
  maxMismatch: number;
  out?: string;
  threads?: number;
  json: boolean;
}

const NUMBER = /^\s*\d+(\.\d*)?([eE][-+]?\d+)?\s*$/;

export function parseTolerance(s: string): Tolerance | Invalid {
  const parts = s.split(',');
  if (parts.length > 2 || !parts.every((p) => NUMBER.test(p))) return { invalid: 'must be "abs" or "abs,rel": numbers >= 0 (e.g. 0.001,0.01)' };
  return { abs: Number(parts[0]), rel: parts.length === 2 ? Number(parts[1]) : 0 };
}

export function parseRate(s: string): number | Invalid {
  const percent = s.trim().endsWith('%');
  const text = percent ? s.trim().slice(0, -1) : s;
  const n = NUMBER.test(text) ? Number(text) / (percent ? 100 : 1) : NaN;
  return n >= 0 && n <= 1 ? n : { invalid: 'must be a rate from 0 to 1 (0.001) or a percentage (0.1%)' };
}

const REPORT_FORMATS: [RegExp, (r: ShadowResult) => string][] = [
  [/\.html?$/i, renderShadowHtml],
  [/\.md$/i, renderShadowMarkdown],
  [/\.json$/i, renderShadowJson],
];

export const SHADOW_COMMAND: CommandSpec<ShadowArgs> = {
  name: 'shadow',
  about: 'Proves, value by value, that what the sidecar served is what training reads: for every (entity, feature) in the served-value log (larder serve --log-served <dir>), recomputes the training value at the request time from the offline data, compares, and names the cause of each difference (stale, ttl, skew, not held, unexplained). Exit codes: 0 passed, 1 a feature\'s skew or unexplained rate is above --max-mismatch (or the comparison could not run), 2 bad options.',
  positionals: [{ key: 'repoDir', name: 'repo', required: true, description: 'The feature repo folder (with larder.config.ts, .mjs, .js or .json).' }],
  options: [
    {
      key: 'servedDir', flag: '--served', env: 'LARDER_SERVED', valueName: '<dir>', defaultText: undefined,
      description: "The sidecar's --log-served directory (its *.ndjson files).",
      parse: nonEmpty('a directory path'),
    },
    {
      key: 'tolerance', flag: '--tolerance', env: 'LARDER_TOLERANCE', valueName: '<abs,rel>', defaultText: '0,0',
      description: "Numbers within abs, or within rel x the larger, are equal. 0,0: exact at the feature's precision (float32 as float32).",
      parse: parseTolerance,
    },
    {
      key: 'maxMismatch', flag: '--max-mismatch', env: 'LARDER_MAX_MISMATCH', valueName: '<rate>', defaultText: '0',
      description: "Fail (exit 1) when any feature's skew or unexplained rate is above this: a fraction (0.001) or a percentage (0.1%).",
      parse: parseRate,
    },
    {
      key: 'out', flag: '--out', env: 'LARDER_SHADOW_OUT', valueName: '<file>', defaultText: undefined, whenUnset: 'no report file',
      description: 'Write the report: .html (a page to read), .md or .json.',
      parse: (raw) => (REPORT_FORMATS.some(([re]) => re.test(raw)) ? raw : { invalid: 'must end in .html, .md or .json (the report format)' }),
    },
    BUILD_OPTIONS.find((o) => o.key === 'threads') as unknown as OptionSpec<ShadowArgs>,
    { key: 'json', flag: '--json', env: 'LARDER_JSON', defaultText: 'false', description: 'Print the whole result as JSON instead of the summary.', parse: switchValue },
  ],
};

/** Reads shadow's arguments; throws LARDER_ERR_USAGE or LARDER_ERR_OPTION naming the flag and its variable. */
export function parseShadowArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand<ShadowArgs> {
  return parseCommand(SHADOW_COMMAND, argv, env);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseShadowArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText(SHADOW_COMMAND));
    return 0;
  }
  const args = parsed.options;
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

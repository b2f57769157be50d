/**
 * `larder build <repo> --out <dir> [--as-of <ISO>] [--hot-keys <file>] [--hot-limit <N>]`.
 * Exit codes: 0 built, 2 bad options, 1 a build failure (bad config or data;
 * the dispatcher prints the LarderError).
 */
import { parseArgs } from 'node:util';
import { type BuildResult, buildBundle } from '../build.js';
import { progressPrinter } from '../progress.js';

const HELP = `usage: larder build <repo> --out <dir> [options]

Builds the next bundle version of the feature repo in <repo> (a folder with
larder.config.ts, .mjs, .js or .json) into <dir>: for each online feature
view, the value of every entity key as of --as-of, by the as-of rule.

options (flag, environment variable, default):
  --out <dir>          LARDER_OUT        (required) folder for <project>-v<N>.larder files;
                                         N is one more than the highest already there
  --as-of <time>       LARDER_AS_OF      now. ISO 8601: 2024-05-01, 2024-05-01T12:00:00Z,
                                         2024-05-01T14:00:00+02:00 (no zone = UTC)
  --hot-keys <file>    LARDER_HOT_KEYS   none (all keys). Keys the bundle holds: one key per
                                         line, or "key,count" lines; a header line naming the
                                         join key columns (e.g. "city,driver_id,count") is
                                         needed for composite keys. Views whose join keys
                                         differ from the file's keep all keys.
  --hot-limit <n>      LARDER_HOT_LIMIT  all. Keys kept per view: the first n of a plain file,
                                         the n largest counts of a key,count file, or without
                                         --hot-keys the n most recently updated keys.
                                         0 builds a bundle with definitions and no keys.
  --threads <n>        LARDER_THREADS    all cores. DuckDB worker threads.
  --on-bad-row <fail|skip> LARDER_ON_BAD_ROW  fail. A source row holding a time larder cannot
                                         store (infinite, or outside the years 0001-9999):
                                         fail the build, or skip the row with a warning.
  --json                                 print the summary as JSON
  -h, --help                             show this help

Progress goes to stderr, the summary to stdout.`;

class UsageError extends Error {}

/** ISO 8601 date or date-time; a date-time without a zone is UTC. */
export function parseAsOf(s: string): Date {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`--as-of ${JSON.stringify(s)} is not an ISO 8601 time (e.g. 2024-05-01 or 2024-05-01T12:00:00Z)`);
  const [, date, time, zone] = m;
  const iso = time ? `${date}T${time}${zone ?? 'Z'}` : `${date}T00:00:00Z`;
  const d = new Date(iso);
  // Date rolls 2024-02-30 over to March; a calendar check catches that.
  const [y, mo, day] = date!.split('-').map(Number) as [number, number, number];
  const calendarOk = new Date(Date.UTC(y, mo - 1, day)).toISOString().slice(0, 10) === date;
  if (Number.isNaN(d.getTime()) || !calendarOk) throw new UsageError(`--as-of ${JSON.stringify(s)} is not a valid time`);
  return d;
}

function parseCount(flag: string, s: string, min: number): number {
  if (!/^\d+$/.test(s.trim()) || Number(s) < min) throw new UsageError(`${flag} ${JSON.stringify(s)} must be an integer >= ${min}`);
  return Number(s);
}

interface BuildArgs {
  help: boolean;
  json: boolean;
  repoDir: string;
  outDir: string;
  asOf?: Date;
  hotKeysFile?: string;
  hotLimit?: number;
  threads?: number;
  onBadRow?: 'fail' | 'skip';
}

export function parseBuildArgs(argv: string[], env: NodeJS.ProcessEnv): BuildArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string' },
        'as-of': { type: 'string' },
        'hot-keys': { type: 'string' },
        'hot-limit': { type: 'string' },
        threads: { type: 'string' },
        'on-bad-row': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true, json: false, repoDir: '', outDir: '' };
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'missing <repo> (the feature repo folder)' : `expected one <repo>, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  const pick = (flag: string | undefined, name: string) => flag ?? (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  const outDir = pick(values.out, 'LARDER_OUT');
  if (!outDir) throw new UsageError('missing --out <dir> (or LARDER_OUT)');
  const args: BuildArgs = { help: false, json: values.json ?? false, repoDir: positionals[0]!, outDir };
  const asOf = pick(values['as-of'], 'LARDER_AS_OF');
  if (asOf !== undefined) args.asOf = parseAsOf(asOf);
  const hotKeys = pick(values['hot-keys'], 'LARDER_HOT_KEYS');
  if (hotKeys !== undefined) args.hotKeysFile = hotKeys;
  const hotLimit = pick(values['hot-limit'], 'LARDER_HOT_LIMIT');
  if (hotLimit !== undefined) args.hotLimit = parseCount('--hot-limit', hotLimit, 0);
  const threads = pick(values.threads, 'LARDER_THREADS');
  if (threads !== undefined) args.threads = parseCount('--threads', threads, 1);
  const onBadRow = pick(values['on-bad-row'], 'LARDER_ON_BAD_ROW');
  if (onBadRow !== undefined && onBadRow !== 'fail' && onBadRow !== 'skip') throw new UsageError(`--on-bad-row ${JSON.stringify(onBadRow)} must be fail or skip`);
  if (onBadRow !== undefined) args.onBadRow = onBadRow;
  return args;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function hotKeysText(h: BuildResult['views'][number]['hotKeys']): string {
  if (h === 'all') return 'all keys';
  if (h === 'limit') return 'limited (latest updated)';
  if (h === 'file does not apply') return 'all keys (hot keys file does not apply)';
  return `${h.found} of ${h.listed} listed`;
}

export function formatSummary(r: BuildResult): string {
  const m = r.manifest;
  const lines = [`built ${m.project} v${m.version}${m.parentVersion === null ? '' : ` (parent v${m.parentVersion})`} as of ${m.asOf}`];
  const rows = [['view', 'keys', 'source rows', 'visible', 'hot keys'], ...r.views.map((v) => [v.name, String(v.keys), String(v.sourceRows), String(v.visibleRows), hotKeysText(v.hotKeys)])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) lines.push('  ' + row.map((cell, c) => (c === 0 || c === 4 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
  if (r.views.length === 0) lines.push('  (no online feature views)');
  const t = r.timings;
  lines.push(`bytes:    ${formatBytes(r.bytes)} (${r.bytes})`);
  lines.push(`seconds:  ${r.seconds.toFixed(2)} (read ${t.readSeconds.toFixed(2)}, snapshot ${t.snapshotSeconds.toFixed(2)}, convert ${t.convertSeconds.toFixed(2)}, encode ${t.encodeSeconds.toFixed(2)}, write ${t.writeSeconds.toFixed(2)})`);
  if (r.hotKeys) lines.push(`hot keys: ${r.hotKeys.kept} of ${r.hotKeys.distinct} distinct keys in ${r.hotKeys.file}`);
  lines.push(`warnings: ${r.warnings.length}${r.warnings.map((w) => `\n  - ${w}`).join('')}`);
  lines.push(`output:   ${r.path}`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let args: BuildArgs;
  try {
    args = parseBuildArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`larder build: ${e.message}\nRun "larder build --help" for the options.`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const printer = progressPrinter();
  try {
    const result = await buildBundle({
      repoDir: args.repoDir,
      outDir: args.outDir,
      asOf: args.asOf,
      hotKeysFile: args.hotKeysFile,
      hotLimit: args.hotLimit,
      threads: args.threads,
      onBadRow: args.onBadRow,
      onProgress: printer.onProgress,
    });
    printer.done();
    if (args.json) {
      const { manifest, ...rest } = result;
      console.log(JSON.stringify({ ...rest, project: manifest.project, version: manifest.version, parentVersion: manifest.parentVersion, asOf: manifest.asOf }, null, 2));
    } else console.log(formatSummary(result));
    return 0;
  } finally {
    printer.done();
  }
}

/**
 * `larder build <repo> --out <dir> [options]`: its option table, and the
 * summary it prints. Exit 0 when built; a bad option or a failed build
 * throws its LarderError, which the `larder` command prints with the
 * catalog's exit code.
 */
import { type CommandSpec, type Invalid, type OptionSpec, type ParsedCommand, helpText, integer, nonEmpty, parseCommand, switchValue } from '../../src/option-table.js';
import { type BuildResult, buildBundle } from '../build.js';
import { progressPrinter } from '../progress.js';
import { readFile } from 'node:fs/promises';
import { LarderError } from '../../src/core/errors.js';
import { importPrivateKey, parseDuration, signBundle } from '../../src/core/sign/signature.js';

export interface BuildArgs {
  repoDir: string;
  outDir: string;
  asOf?: Date;
  hotKeysFile?: string;
  hotLimit?: number;
  threads?: number;
  /** What a source row holding a time larder cannot store does: fail the build, or skip the row with a warning. */
  onBadRow: 'fail' | 'skip';
  json: boolean;
  /** Private key file (larder keygen) to sign the bundle with. */
  signKey?: string;
  /** How long the signature stays valid, ms; undefined = no expiry. */
  expiresInMs?: number;
}

/** ISO 8601 date or date-time; a date-time without a zone is UTC. */
export function parseAsOf(s: string): Date | Invalid {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(s.trim());
  if (!m) return { invalid: 'must be an ISO 8601 time (e.g. 2024-05-01 or 2024-05-01T12:00:00Z)' };
  const [, date, time, zone] = m;
  const iso = time ? `${date}T${time}${zone ?? 'Z'}` : `${date}T00:00:00Z`;
  const d = new Date(iso);
  // Date rolls 2024-02-30 over to March; a calendar check catches that.
  const [y, mo, day] = date!.split('-').map(Number) as [number, number, number];
  const calendarOk = new Date(Date.UTC(y, mo - 1, day)).toISOString().slice(0, 10) === date;
  if (Number.isNaN(d.getTime()) || !calendarOk) return { invalid: 'must be a valid date and time (ISO 8601)' };
  return d;
}

export const BUILD_OPTIONS: readonly OptionSpec<BuildArgs>[] = [
  {
    key: 'outDir', flag: '--out', env: 'LARDER_OUT', valueName: '<dir>', defaultText: undefined,
    description: 'Folder for the bundle files (<project>-v<N>.larder and its .manifest.json); N is one more than the highest version already there.',
    parse: nonEmpty('a folder path'),
  },
  {
    key: 'asOf', flag: '--as-of', env: 'LARDER_AS_OF', valueName: '<time>', defaultText: undefined, whenUnset: 'now',
    description: 'Snapshot time, ISO 8601: 2024-05-01, 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00 (no zone = UTC).',
    parse: parseAsOf,
  },
  {
    key: 'hotKeysFile', flag: '--hot-keys', env: 'LARDER_HOT_KEYS', valueName: '<file|url>', defaultText: undefined, whenUnset: 'all keys',
    description: 'Keys the bundle holds: one key per line, or "key,count" lines; a header line naming the join key columns (e.g. "city,driver_id,count") is needed for composite keys. Views whose join keys differ from the file\'s keep all keys. An http(s) URL is fetched: a sidecar\'s GET /hot-keys?view=<view>&format=csv answers the keys its traffic reads most.',
    parse: nonEmpty('a file path or an http(s) URL'),
  },
  {
    key: 'hotLimit', flag: '--hot-limit', env: 'LARDER_HOT_LIMIT', valueName: '<n>', defaultText: undefined, whenUnset: 'all',
    description: 'Keys kept per view: the first n of a plain hot keys file, the n largest counts of a key,count file, or without --hot-keys the n most recently updated keys. 0 builds a bundle with the definitions and no keys.',
    parse: integer(0, Number.MAX_SAFE_INTEGER, 'an integer >= 0'),
  },
  {
    key: 'threads', flag: '--threads', env: 'LARDER_THREADS', valueName: '<n>', defaultText: undefined, whenUnset: 'all cores',
    description: 'DuckDB worker threads.',
    parse: integer(1, Number.MAX_SAFE_INTEGER, 'an integer >= 1'),
  },
  {
    key: 'onBadRow', flag: '--on-bad-row', env: 'LARDER_ON_BAD_ROW', valueName: '<fail|skip>', defaultText: 'fail',
    description: 'A source row holding a time larder cannot store (infinite, or outside the years 0001-9999) fails the build (fail), or is left out with a counted warning naming the source, column, row and value (skip).',
    parse: (raw) => (raw === 'fail' || raw === 'skip' ? raw : { invalid: 'must be fail or skip' }),
  },
  {
    key: 'signKey', flag: '--sign-key', env: 'LARDER_SIGN_KEY', valueName: '<file>', defaultText: undefined, whenUnset: 'unsigned',
    description: 'Private key file from larder keygen (*.private.jwk). The bundle is signed: <bundle>.sig beside it holds the signed project, version, created time, expiry, key id and hashes.',
    parse: nonEmpty('a file path'),
  },
  {
    key: 'expiresInMs', flag: '--expires-in', env: 'LARDER_EXPIRES_IN', valueName: '<duration>', defaultText: undefined, whenUnset: 'never expires',
    description: 'With --sign-key: how long the signature is valid, as a number and s, m, h or d (e.g. 7d). Readers refuse the bundle after that.',
    parse: (raw) => parseDuration(raw) ?? { invalid: 'must be a duration: a whole number then s, m, h or d (e.g. 36h, 7d)' },
  },
  {
    key: 'json', flag: '--json', env: 'LARDER_JSON', defaultText: 'false',
    description: 'Print the summary as JSON.',
    parse: switchValue,
  },
];

export const BUILD_COMMAND: CommandSpec<BuildArgs> = {
  name: 'build',
  about: 'Builds the next bundle version of the feature repo in <repo> into --out: for each online feature view, the value of every entity key as of --as-of, by the as-of rule. Progress goes to stderr, the summary to stdout.',
  positionals: [{ key: 'repoDir', name: 'repo', required: true, description: 'The feature repo folder (with larder.config.ts, .mjs, .js or .json).' }],
  options: BUILD_OPTIONS,
};

/** Reads build's arguments; throws LARDER_ERR_USAGE or LARDER_ERR_OPTION naming the flag and its variable. */
export function parseBuildArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand<BuildArgs> {
  return parseCommand(BUILD_COMMAND, argv, env);
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
  const parsed = parseBuildArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText(BUILD_COMMAND));
    return 0;
  }
  const args = parsed.options;
  if (args.expiresInMs !== undefined && args.signKey === undefined) {
    throw new LarderError('LARDER_ERR_OPTION', '--expires-in (LARDER_EXPIRES_IN) needs --sign-key (LARDER_SIGN_KEY): only a signature carries an expiry');
  }
  const sign = args.signKey === undefined ? undefined : await signerFor(args.signKey, args.expiresInMs);
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
      sign,
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

/** Reads the private key before the build starts, so a bad key costs no build. */
async function signerFor(keyFile: string, expiresInMs: number | undefined): Promise<(bytes: Uint8Array, manifest: Parameters<typeof signBundle>[1]) => Promise<string>> {
  let text: string;
  try {
    text = await readFile(keyFile, 'utf8');
  } catch (e) {
    throw new LarderError('LARDER_ERR_KEY', `--sign-key (LARDER_SIGN_KEY): cannot read ${keyFile}: ${(e as Error).message}`, { cause: e });
  }
  await importPrivateKey(text, keyFile); // fails now on a public key or a file that is no key
  return (bytes, manifest) =>
    signBundle(bytes, manifest, text, { keyFile, expiresAtMs: expiresInMs === undefined ? undefined : Date.now() + expiresInMs });
}

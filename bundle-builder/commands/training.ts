/**
 * `larder training <repo> --entities <file> (--features v:f,... | --feature-service <name>) --out <file>`.
 * Exit codes: 0 written, 2 bad options, 1 a failure (bad config, data or
 * entities file; the dispatcher prints the LarderError).
 */
import { parseArgs } from 'node:util';
import { progressPrinter } from '../progress.js';
import { type TrainingProgress, type TrainingResult, buildTrainingSet } from '../training.js';

const HELP = `usage: larder training <repo> --entities <file> (--features <refs> | --feature-service <name>) --out <file> [options]

Builds a training set: every row of the entities file gets each feature's
value at that row's time, by the same rule the bundles and the sidecar use
(the latest row at or before the time; a hole, meaning no row, a null value
or a row older than the view's TTL, reads as the feature's default). No
value from after a row's time can appear.

options:
  --entities <file>          (required) Parquet, CSV or Arrow IPC with the views' join keys
                             and a timestamp column; other columns (labels) pass through
  --features <refs>          comma-separated "view:feature" (or "view:*")
  --feature-service <name>   the features of a feature service
  --out <file>               (required) .parquet, .pq, .csv, .arrow, .feather or .ipc;
                             rows in the entities file's order
  --timestamp-column <name>  the entities' time column (default event_timestamp)
  --full-feature-names       name columns view__feature (Feast's full_feature_names)
  --no-defaults              every hole is null instead of the feature's default
  --threads <n>              DuckDB worker threads (LARDER_THREADS; default all cores)
  --json                     print the summary as JSON
  -h, --help                 show this help

Progress goes to stderr, the summary to stdout.`;

class UsageError extends Error {}

interface TrainingArgs {
  help: boolean;
  json: boolean;
  repoDir: string;
  entitiesFile: string;
  outFile: string;
  features?: string[];
  featureService?: string;
  timestampColumn?: string;
  fullFeatureNames: boolean;
  defaults: boolean;
  threads?: number;
}

export function parseTrainingArgs(argv: string[], env: NodeJS.ProcessEnv): TrainingArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        entities: { type: 'string' },
        features: { type: 'string' },
        'feature-service': { type: 'string' },
        out: { type: 'string' },
        'timestamp-column': { type: 'string' },
        'full-feature-names': { type: 'boolean', default: false },
        'no-defaults': { type: 'boolean', default: false },
        threads: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const help = { help: true, json: false, repoDir: '', entitiesFile: '', outFile: '', fullFeatureNames: false, defaults: true };
  if (values.help) return help;
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'missing <repo> (the feature repo folder)' : `expected one <repo>, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  if (!values.entities) throw new UsageError('missing --entities <file>');
  if (!values.out) throw new UsageError('missing --out <file>');
  if ((values.features === undefined) === (values['feature-service'] === undefined)) {
    throw new UsageError('give either --features <refs> or --feature-service <name>');
  }
  const args: TrainingArgs = {
    help: false,
    json: values.json ?? false,
    repoDir: positionals[0]!,
    entitiesFile: values.entities,
    outFile: values.out,
    fullFeatureNames: values['full-feature-names'] ?? false,
    defaults: !(values['no-defaults'] ?? false),
  };
  if (values.features !== undefined) {
    args.features = values.features.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (args.features.length === 0) throw new UsageError('--features is empty: give "view:feature" references, comma-separated');
  }
  if (values['feature-service'] !== undefined) args.featureService = values['feature-service'];
  if (values['timestamp-column'] !== undefined) args.timestampColumn = values['timestamp-column'];
  const threads = values.threads ?? (env.LARDER_THREADS || undefined);
  if (threads !== undefined) {
    if (!/^\d+$/.test(threads.trim()) || Number(threads) < 1) throw new UsageError(`--threads ${JSON.stringify(threads)} must be an integer >= 1`);
    args.threads = Number(threads);
  }
  return args;
}

export function formatTrainingSummary(r: TrainingResult): string {
  const lines = [`wrote ${r.rows} rows x ${r.columns.length} columns to ${r.path}`];
  const table = [['view', 'features', 'present', 'outside max age', 'not found'], ...r.views.map((v) => [v.name, String(v.features.length), String(v.present), String(v.outsideMaxAge), String(v.notFound)])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) lines.push('  ' + row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
  const t = r.timings;
  lines.push(`seconds:  ${r.seconds.toFixed(2)} (read ${t.readSeconds.toFixed(2)}, join ${t.joinSeconds.toFixed(2)}, write ${t.writeSeconds.toFixed(2)})`);
  lines.push(`warnings: ${r.warnings.length}${r.warnings.map((w) => `\n  - ${w}`).join('')}`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let args: TrainingArgs;
  try {
    args = parseTrainingArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`larder training: ${e.message}\nRun "larder training --help" for the options.`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const printer = progressPrinter();
  // The join's percentage updates one line, as the build's row counts do.
  const onProgress = (p: TrainingProgress) => {
    if (p.phase === 'join' && p.percent !== undefined) printer.onProgress({ phase: 'convert', message: p.message, rows: Math.round(p.percent), total: 100 });
    else printer.onProgress({ phase: p.phase === 'warning' ? 'warning' : 'read', message: p.message });
  };
  try {
    const result = await buildTrainingSet({ ...args, onProgress });
    printer.done();
    console.log(args.json ? JSON.stringify(result, null, 2) : formatTrainingSummary(result));
    return 0;
  } finally {
    printer.done();
  }
}

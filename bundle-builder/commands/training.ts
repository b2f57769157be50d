/**
 * `larder training <repo> --entities <file> (--features v:f,... | --feature-service <name>) --out <file>`.
 * Exit codes: 0 written, 2 bad options, 1 a failure (bad config, data or
 * entities file; the dispatcher prints the LarderError).
 */
import { LarderError } from '../../src/core/errors.js';
import { type CommandSpec, type OptionSpec, type ParsedCommand, helpText, nonEmpty, parseCommand, switchValue } from '../../src/option-table.js';
import { progressPrinter } from '../progress.js';
import { type TrainingProgress, type TrainingResult, buildTrainingSet } from '../training.js';
import { BUILD_OPTIONS } from './build.js';

export interface TrainingArgs {
  repoDir: string;
  entitiesFile: string;
  outFile: string;
  features?: string[];
  featureService?: string;
  timestampColumn: string;
  fullFeatureNames: boolean;
  noDefaults: boolean;
  threads?: number;
  json: boolean;
}

export const TRAINING_COMMAND: CommandSpec<TrainingArgs> = {
  name: 'training',
  about: "Builds a training set: every row of the entities file gets each feature's value at that row's time, by the same rule the bundles and the sidecar use (the latest row at or before the time; a hole, meaning no row, a null value or a row older than the view's TTL, reads as the feature's default). No value from after a row's time can appear. Give --features or --feature-service. Progress goes to stderr, the summary to stdout.",
  positionals: [{ key: 'repoDir', name: 'repo', required: true, description: 'The feature repo folder (with larder.config.ts, .mjs, .js or .json).' }],
  options: [
    {
      key: 'entitiesFile', flag: '--entities', env: 'LARDER_ENTITIES', valueName: '<file>', defaultText: undefined,
      description: "Parquet, CSV or Arrow IPC with the views' join keys and a timestamp column; other columns (labels) pass through unchanged.",
      parse: nonEmpty('a file path'),
    },
    {
      key: 'features', flag: '--features', env: 'LARDER_FEATURES', valueName: '<refs>', defaultText: undefined, whenUnset: 'see --feature-service',
      description: 'Comma-separated "view:feature" references ("view:*" for all of a view\'s features).',
      parse: (raw) => {
        const refs = raw.split(',').map((r) => r.trim()).filter((r) => r !== '');
        return refs.length > 0 ? refs : { invalid: 'must be "view:feature" references, comma-separated' };
      },
    },
    {
      key: 'featureService', flag: '--feature-service', env: 'LARDER_FEATURE_SERVICE', valueName: '<name>', defaultText: undefined, whenUnset: 'see --features',
      description: 'The features of a feature service, instead of --features.',
      parse: nonEmpty('a feature service name'),
    },
    {
      key: 'outFile', flag: '--out', env: 'LARDER_TRAINING_OUT', valueName: '<file>', defaultText: undefined,
      description: "The training set: .parquet, .pq, .csv, .arrow, .feather or .ipc; rows in the entities file's order.",
      parse: nonEmpty('a file path'),
    },
    {
      key: 'timestampColumn', flag: '--timestamp-column', env: 'LARDER_TIMESTAMP_COLUMN', valueName: '<name>', defaultText: 'event_timestamp',
      description: "The entities file's time column: each row's features are read as of this time.",
      parse: nonEmpty('a column name'),
    },
    {
      key: 'fullFeatureNames', flag: '--full-feature-names', env: 'LARDER_FULL_FEATURE_NAMES', defaultText: 'false',
      description: "Name feature columns view__feature (Feast's full_feature_names).",
      parse: switchValue,
    },
    {
      key: 'noDefaults', flag: '--no-defaults', env: 'LARDER_NO_DEFAULTS', defaultText: 'false',
      description: "Every hole is null instead of the feature's default.",
      parse: switchValue,
    },
    BUILD_OPTIONS.find((o) => o.key === 'threads') as unknown as OptionSpec<TrainingArgs>,
    { key: 'json', flag: '--json', env: 'LARDER_JSON', defaultText: 'false', description: 'Print the summary as JSON.', parse: switchValue },
  ],
};

/** Reads training's arguments; throws LARDER_ERR_USAGE or LARDER_ERR_OPTION naming the flag and its variable. */
export function parseTrainingArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand<TrainingArgs> {
  const parsed = parseCommand(TRAINING_COMMAND, argv, env);
  if (!parsed.help && (parsed.options.features === undefined) === (parsed.options.featureService === undefined)) {
    throw new LarderError('LARDER_ERR_OPTION', 'give either --features <refs> or --feature-service <name> (LARDER_FEATURES, LARDER_FEATURE_SERVICE)');
  }
  return parsed;
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
  const parsed = parseTrainingArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText(TRAINING_COMMAND));
    return 0;
  }
  const { noDefaults, json, ...rest } = parsed.options;
  const args = { ...rest, defaults: !noDefaults };
  const printer = progressPrinter();
  // The join's percentage updates one line, as the build's row counts do.
  const onProgress = (p: TrainingProgress) => {
    if (p.phase === 'join' && p.percent !== undefined) printer.onProgress({ phase: 'convert', message: p.message, rows: Math.round(p.percent), total: 100 });
    else printer.onProgress({ phase: p.phase === 'warning' ? 'warning' : 'read', message: p.message });
  };
  try {
    const result = await buildTrainingSet({ ...args, onProgress });
    printer.done();
    console.log(json ? JSON.stringify(result, null, 2) : formatTrainingSummary(result));
    return 0;
  } finally {
    printer.done();
  }
}

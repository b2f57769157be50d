/**
 * `larder catalog <repo> [query] [--json]`: lists the repo's features with
 * dtype, TTL, owner, tags and description. Exit codes: 0 listed (even when
 * nothing matches), 2 bad options, 1 a bad config (printed by the dispatcher).
 */
import { parseArgs } from 'node:util';
import { catalogEntries, filterCatalog, formatCatalog } from '../catalog.js';
import { loadRepo } from '../config.js';

const HELP = `usage: larder catalog <repo> [query] [--json]

Lists the features of the feature repo in <repo> (a folder with
larder.config.ts, .mjs, .js or .json): view, feature, dtype, TTL, whether the
view is online, owner, tags and description. Reads the config only.

arguments:
  query        keep features whose view or feature name, description, or a tag
               (key, value or key=value) contains this text (case-insensitive)

options:
  --json       print the matching entries as JSON
  -h, --help   show this help`;

export async function run(argv: string[]): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    }));
  } catch (e) {
    console.error(`larder catalog: ${(e as Error).message}\nRun "larder catalog --help" for the options.`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length < 1 || positionals.length > 2) {
    console.error(`larder catalog: expected <repo> [query], got ${positionals.length} arguments\nRun "larder catalog --help" for the options.`);
    return 2;
  }
  const [repoDir, query] = positionals as [string, string | undefined];
  const { repo } = await loadRepo(repoDir);
  const entries = filterCatalog(catalogEntries(repo), query);
  console.log(values.json ? JSON.stringify(entries, null, 2) : formatCatalog(entries));
  return 0;
}

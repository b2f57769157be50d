/**
 * `larder catalog <repo> [query] [--json]`: lists the repo's features with
 * dtype, TTL, owner, tags and description. Exit 0 when listed (even when
 * nothing matches); a bad option or config throws its LarderError, which the
 * `larder` command prints with the catalog's exit code.
 */
import { type CommandSpec, type OptionSpec, helpText, parseCommand, switchValue } from '../../src/option-table.js';
import { catalogEntries, filterCatalog, formatCatalog } from '../catalog.js';
import { loadRepo } from '../config.js';

export interface CatalogArgs {
  repoDir: string;
  query?: string;
  json: boolean;
}

export const CATALOG_OPTIONS: readonly OptionSpec<CatalogArgs>[] = [
  {
    key: 'json', flag: '--json', env: 'LARDER_JSON', defaultText: 'false',
    description: 'Print the matching entries as JSON.',
    parse: switchValue,
  },
];

export const CATALOG_COMMAND: CommandSpec<CatalogArgs> = {
  name: 'catalog',
  about: 'Lists the features of the feature repo in <repo>: view, feature, dtype, TTL, whether the view is online, owner, tags and description. Reads the config only.',
  positionals: [
    { key: 'repoDir', name: 'repo', required: true, description: 'The feature repo folder (with larder.config.ts, .mjs, .js or .json).' },
    { key: 'query', name: 'query', required: false, description: 'Keep features whose view or feature name, description, or a tag (key, value or key=value) contains this text (case-insensitive).' },
  ],
  options: CATALOG_OPTIONS,
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(CATALOG_COMMAND, argv, process.env);
  if (parsed.help) {
    console.log(helpText(CATALOG_COMMAND));
    return 0;
  }
  const { repoDir, query, json } = parsed.options;
  const { repo } = await loadRepo(repoDir);
  const entries = filterCatalog(catalogEntries(repo), query);
  console.log(json ? JSON.stringify(entries, null, 2) : formatCatalog(entries));
  return 0;
}

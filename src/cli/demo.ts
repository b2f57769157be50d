/**
 * `larder demo`: writes the demo shop repo, builds a bundle from it and
 * serves it with the sidecar, then prints a curl that works. Needs no Redis:
 * every key the demo asks for is in the bundle.
 */
import { resolve, join } from 'node:path';
import { buildBundle } from '../../bundle-builder/build.js';
import { LarderError } from '../core/errors.js';
import { stderrLogger } from '../sidecar/log.js';
import { SERVE_OPTIONS, type ServeOptions } from '../sidecar/options.js';
import { closeOnSignals, listeningLine, startSidecar } from '../sidecar/serve.js';
import { DEMO_USERS, writeDemoRepo } from './demo-repo.js';
import { type CommandSpec, type OptionSpec, helpText, nonEmpty, parseCommand } from './options.js';

export type DemoOptions = Omit<ServeOptions, 'bundles'> & { dir: string };

export const DEMO_COMMAND: CommandSpec<DemoOptions> = {
  name: 'demo',
  about: "Writes a demo feature repo (users and products, Parquet files written with DuckDB) into --dir, builds a bundle from it into <dir>/bundles, serves it and prints a curl for /get-online-features. Stop it with Ctrl-C.",
  positionals: [],
  options: [
    {
      key: 'dir', flag: '--dir', env: 'LARDER_DEMO_DIR', valueName: '<dir>', defaultText: '.larder-demo',
      description: 'Where the demo repo goes; its bundles go to <dir>/bundles.',
      parse: nonEmpty('a folder path'),
    },
    // The sidecar's own options, but --bundles: the demo serves <dir>/bundles.
    ...(SERVE_OPTIONS.filter((s) => s.key !== 'bundles') as readonly OptionSpec<Omit<ServeOptions, 'bundles'>>[]),
  ],
};

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(DEMO_COMMAND, argv, process.env);
  if (parsed.help) {
    console.log(helpText(DEMO_COMMAND));
    return 0;
  }
  const { dir: dirOption, ...serveOptions } = parsed.options;
  const dir = resolve(dirOption);
  const bundles = join(dir, 'bundles');

  console.log(`Writing the demo repo to ${dir}`);
  try {
    await writeDemoRepo(dir, new Date());
  } catch (e) {
    if (e instanceof LarderError) throw e;
    throw new LarderError('LARDER_ERR_OPTION', `--dir (LARDER_DEMO_DIR): cannot write the demo repo to ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const built = await buildBundle({ repoDir: dir, outDir: bundles });
  console.log(`Built ${built.path} (${built.bytes} bytes, ${built.views.map((v) => `${v.name}: ${v.keys} keys`).join(', ')})`);

  const sidecar = await startSidecar({ ...serveOptions, bundles }, { log: stderrLogger });
  console.log(listeningLine(sidecar));
  console.log(`\nTry it (user ${DEMO_USERS + 1} does not exist, user 10's values are older than the 2-day TTL):\n`);
  console.log(demoCurl(sidecar.url));
  console.log(`\nOr a feature service: curl -s ${sidecar.url}/get-online-features -d '{"feature_service": "ranker_v1", "entities": {"user_id": [1], "product_id": ["p0001"]}}'`);
  console.log(`Metrics: curl -s ${sidecar.url}/metrics    Stop: Ctrl-C`);
  return closeOnSignals(sidecar, serveOptions.shutdownGraceMs, stderrLogger);
}

export function demoCurl(url: string): string {
  const body = JSON.stringify({
    features: ['user_stats:clicks_7d', 'user_stats:ctr_7d', 'user_stats:country', 'user_stats:is_vip'],
    entities: { user_id: [1, 10, DEMO_USERS + 1] },
  });
  return `curl -s ${url}/get-online-features -d '${body}'`;
}

/**
 * `larder demo`: writes the demo shop repo, builds a bundle from it and
 * serves it with the sidecar, then prints a curl that works. Needs no Redis:
 * every key the demo asks for is in the bundle.
 *
 * It checks the port before the build (a taken port fails in a second, not
 * after the build), and each run replaces the previous run's bundles, so the
 * folder holds `demo_shop-v1.larder` however often the demo runs.
 */
import { createServer } from 'node:net';
import { rm } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import { buildBundle } from '../../bundle-builder/build.js';
import { listBundles } from '../bundle-file.js';
import { LarderError } from '../core/errors.js';
import { stderrLogger } from '../sidecar/log.js';
import { SERVE_OPTIONS, type ServeOptions } from '../sidecar/options.js';
import { closeOnSignals, listeningLine, startSidecar } from '../sidecar/serve.js';
import { DEMO_PROJECT, DEMO_USERS, writeDemoRepo } from './demo-repo.js';
import { type CommandSpec, type OptionSpec, helpText, nonEmpty, parseCommand } from '../option-table.js';

export type DemoOptions = Omit<ServeOptions, 'bundles'> & { dir: string };

export const DEMO_COMMAND: CommandSpec<DemoOptions> = {
  name: 'demo',
  about: 'Writes a demo feature repo (users and products, Parquet files written with DuckDB) into --dir, builds a bundle from it into <dir>/bundles, serves it and prints a curl for /get-online-features. Each run replaces the bundles of earlier runs. Stop it with Ctrl-C.',
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
  await checkCanListen(serveOptions.host, serveOptions.port);

  console.log(`Writing the demo repo to ${dir}`);
  try {
    await writeDemoRepo(dir, new Date());
  } catch (e) {
    if (e instanceof LarderError) throw e;
    throw new LarderError('LARDER_ERR_OPTION', `--dir (LARDER_DEMO_DIR): cannot write the demo repo to ${dir}: ${(e as Error).message}`, { cause: e });
  }
  await removeDemoBundles(bundles);
  const built = await buildBundle({ repoDir: dir, outDir: bundles });
  console.log(`Built ${built.path} (${built.bytes} bytes, ${built.views.map((v) => `${v.name}: ${v.keys} keys`).join(', ')})`);

  const sidecar = await startSidecar({ ...serveOptions, bundles }, { log: stderrLogger }).catch((e: unknown) => {
    // Taken during the build, after the check: the same advice.
    throw e instanceof LarderError && e.code === 'LARDER_ERR_LISTEN' ? listenError(serveOptions.host, serveOptions.port, e.cause as NodeJS.ErrnoException) : e;
  });
  // Signals are handled from here on, before the lines a caller may act on are printed.
  const stopped = closeOnSignals(sidecar, serveOptions.shutdownGraceMs, stderrLogger);
  console.log(listeningLine(sidecar));
  console.log(`\nTry it (user ${DEMO_USERS + 1} does not exist, user 10's values are older than the 2-day TTL):\n`);
  console.log(demoCurl(sidecar.url));
  console.log(`\nOr a feature service: curl -s ${sidecar.url}/get-online-features -d '{"feature_service": "ranker_v1", "entities": {"user_id": [1], "product_id": ["p0001"]}}'`);
  console.log(`Metrics: curl -s ${sidecar.url}/metrics    Stop: Ctrl-C`);
  return stopped;
}

/**
 * Fails with LARDER_ERR_LISTEN, saying how to pick another port, when the
 * sidecar could not listen on host:port; checked before the build so that a
 * taken port fails at once.
 */
async function checkCanListen(host: string, port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((done, fail) => {
    probe.once('error', (e: NodeJS.ErrnoException) => fail(listenError(host, port, e)));
    probe.listen(port, host, () => probe.close(() => done()));
  });
}

function listenError(host: string, port: number, e: NodeJS.ErrnoException): LarderError {
  const why = e.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use (is another demo or sidecar running?)` : `cannot listen on ${host}:${port}: ${e.message}`;
  return new LarderError('LARDER_ERR_LISTEN', `${why}; choose another port with --port <port> or LARDER_PORT=<port> (npm start -- --port <port>)`, { cause: e });
}

/** Removes the demo bundles (and their manifests) of earlier runs, so this run's build is v1 again. */
async function removeDemoBundles(bundles: string): Promise<void> {
  for (const { path } of await listBundles(bundles, DEMO_PROJECT)) {
    await rm(path, { force: true });
    await rm(`${path}.manifest.json`, { force: true });
  }
}

export function demoCurl(url: string): string {
  const body = JSON.stringify({
    features: ['user_stats:clicks_7d', 'user_stats:ctr_7d', 'user_stats:country', 'user_stats:is_vip'],
    entities: { user_id: [1, 10, DEMO_USERS + 1] },
  });
  return `curl -s ${url}/get-online-features -d '${body}'`;
}

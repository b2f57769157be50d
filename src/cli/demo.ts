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
import { parseArgs } from 'node:util';
import { buildBundle } from '../../bundle-builder/build.js';
import { listBundles } from '../bundle-file.js';
import { stderrLogger } from '../sidecar/log.js';
import { OptionError, parseServeArgs } from '../sidecar/options.js';
import { ListenError, closeOnSignals, listeningLine, startSidecar } from '../sidecar/serve.js';
import { DEMO_PROJECT, DEMO_USERS, writeDemoRepo } from './demo-repo.js';

const HELP = `usage: larder demo [--dir <dir>] [--port <port>] [--host <host>]

Writes a demo feature repo (users and products, Parquet files written with
DuckDB) into <dir>, builds a bundle from it into <dir>/bundles, serves it on
http://<host>:<port> and prints a curl for /get-online-features.
Each run replaces the bundles of earlier runs. Stop it with Ctrl-C.

options:
  --dir <dir>     where the demo repo goes (default: .larder-demo)
  --port <port>   sidecar port (default: 6566, or LARDER_PORT)
  --host <host>   sidecar host (default: 127.0.0.1, or LARDER_HOST)
  -h, --help      this help`;

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`larder demo: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const dir = resolve(args.dir ?? '.larder-demo');
  const bundles = join(dir, 'bundles');
  const serveArgs = ['--bundles', bundles];
  if (args.port) serveArgs.push('--port', args.port);
  if (args.host) serveArgs.push('--host', args.host);

  try {
    const parsed = parseServeArgs(serveArgs, process.env);
    if (parsed.help) return 0;
    const { options } = parsed;
    await checkCanListen(options.host, options.port);

    console.log(`Writing the demo repo to ${dir}`);
    await writeDemoRepo(dir, new Date());
    await removeDemoBundles(bundles);
    const built = await buildBundle({ repoDir: dir, outDir: bundles });
    console.log(`Built ${built.path} (${built.bytes} bytes, ${built.views.map((v) => `${v.name}: ${v.keys} keys`).join(', ')})`);

    const sidecar = await startSidecar(options, { log: stderrLogger }).catch((e: unknown) => {
      // Taken during the build, after the check: the same advice.
      throw e instanceof ListenError ? listenError(options.host, options.port, e.cause as NodeJS.ErrnoException) : e;
    });
    // Signals are handled from here on, before the lines a caller may act on are printed.
    const stopped = closeOnSignals(sidecar, options.shutdownGraceMs, stderrLogger);
    console.log(listeningLine(sidecar));
    console.log(`\nTry it (user ${DEMO_USERS + 1} does not exist, user 10's values are older than the 2-day TTL):\n`);
    console.log(demoCurl(sidecar.url));
    console.log(`\nOr a feature service: curl -s ${sidecar.url}/get-online-features -d '{"feature_service": "ranker_v1", "entities": {"user_id": [1], "product_id": ["p0001"]}}'`);
    console.log(`Metrics: curl -s ${sidecar.url}/metrics    Stop: Ctrl-C`);
    return await stopped;
  } catch (e) {
    if (e instanceof OptionError) {
      console.error(`larder demo: ${e.message}\nRun "larder demo --help" for the options.`);
      return 2;
    }
    if (e instanceof ListenError) {
      console.error(`larder demo: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/**
 * Fails with a ListenError saying how to pick another port when the sidecar
 * could not listen on host:port; checked before the build so that a taken
 * port fails at once.
 */
async function checkCanListen(host: string, port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((done, fail) => {
    probe.once('error', (e: NodeJS.ErrnoException) => fail(listenError(host, port, e)));
    probe.listen(port, host, () => probe.close(() => done()));
  });
}

function listenError(host: string, port: number, e: NodeJS.ErrnoException): ListenError {
  const why = e.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use (is another demo or sidecar running?)` : `cannot listen on ${host}:${port}: ${e.message}`;
  return new ListenError(`${why}; choose another port with --port <port> or LARDER_PORT=<port> (npm start -- --port <port>)`, { cause: e });
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

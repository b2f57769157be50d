/**
 * `larder serve --bundles <dir> [options]`: runs the sidecar until SIGTERM
 * or SIGINT. Exit codes: 0 after a graceful stop, 2 for bad options, 1 when
 * it cannot start (e.g. the port is taken).
 */
import { stderrLogger } from './log.js';
import { OptionError, helpText, parseServeArgs } from './options.js';
import { ListenError, closeOnSignals, listeningLine, startSidecar } from './serve.js';

export async function run(argv: string[]): Promise<number> {
  try {
    const parsed = parseServeArgs(argv, process.env);
    if (parsed.help) {
      console.log(helpText());
      return 0;
    }
    const { options } = parsed;
    const sidecar = await startSidecar(options, { log: stderrLogger });
    console.log(listeningLine(sidecar));
    return await closeOnSignals(sidecar, options.shutdownGraceMs, stderrLogger);
  } catch (e) {
    if (e instanceof OptionError) {
      console.error(`larder serve: ${e.message}\nRun "larder serve --help" for the options.`);
      return 2;
    }
    if (e instanceof ListenError) {
      console.error(`larder serve: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

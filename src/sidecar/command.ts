/**
 * `larder serve --bundles <dir> [options]`: runs the sidecar until SIGTERM
 * or SIGINT, then exits 0. Bad options and a failed start throw their
 * LarderError, which the `larder` command prints and turns into the
 * catalog's exit code.
 */
import { helpText } from '../option-table.js';
import { stderrLogger } from './log.js';
import { SERVE_COMMAND, parseServeArgs } from './options.js';
import { closeOnSignals, listeningLine, startSidecar } from './serve.js';

export async function run(argv: string[]): Promise<number> {
  const parsed = parseServeArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText(SERVE_COMMAND));
    return 0;
  }
  const { options } = parsed;
  const sidecar = await startSidecar(options, { log: stderrLogger });
  console.log(listeningLine(sidecar));
  return closeOnSignals(sidecar, options.shutdownGraceMs, stderrLogger);
}

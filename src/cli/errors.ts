/**
 * How the `larder` command reports a failure: one line `larder: CODE:
 * message` on stderr and the catalog's exit code (src/core/errors.ts).
 * Subcommands throw their LarderError and never print or pick a code
 * themselves. Also renders the catalog as the README's error table.
 */
import { ERROR_CATALOG, type ErrorCode, type ErrorSpec, LarderError } from '../core/errors.js';
import { markdownCell } from '../option-table.js';

/**
 * Prints `e` for a user and returns the exit code. Anything that is not a
 * LarderError is a bug: it is reported as LARDER_ERR_INTERNAL with its stack.
 * `command` is the subcommand that ran, if one did: an exit-2 error (the
 * command line was wrong) points at its `--help`.
 */
export function reportError(e: unknown, command: string | undefined, print: (text: string) => void = console.error): number {
  if (!(e instanceof LarderError)) {
    const bug = new LarderError('LARDER_ERR_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
    print(`larder: ${bug.code}: ${bug.message}\n${e instanceof Error ? e.stack : ''}`.trimEnd());
    return bug.exitCode;
  }
  const lines = [`larder: ${e.code}: ${e.message}`];
  if (e.exitCode === ERROR_CATALOG.LARDER_ERR_USAGE.exitCode) {
    lines.push(command ? `Run "larder ${command} --help" for the options.` : 'Run "larder --help" for the commands.');
  }
  print(lines.join('\n'));
  return e.exitCode;
}

/** The catalog as a Markdown table (code, HTTP status, exit code, meaning), for the README. */
export function errorsMarkdownTable(): string {
  const lines = ['| Code | HTTP status | Exit code | Meaning |', '| --- | --- | --- | --- |'];
  for (const [code, spec] of Object.entries(ERROR_CATALOG) as [ErrorCode, ErrorSpec][]) {
    lines.push(`| \`${code}\` | ${spec.httpStatus} | ${spec.exitCode} | ${markdownCell(spec.meaning)} |`);
  }
  return lines.join('\n');
}

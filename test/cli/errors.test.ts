/** How the `larder` command reports a failure: one line with the code, and the catalog's exit code. */
import { describe, expect, it } from 'vitest';
import { errorsMarkdownTable, reportError } from '../../src/cli/errors.js';
import { ERROR_CATALOG, LarderError } from '../../src/core/errors.js';

function report(e: unknown, command: string | undefined): { code: number; text: string } {
  let text = '';
  const code = reportError(e, command, (t) => (text += t));
  return { code, text };
}

describe('reportError', () => {
  it('a wrong command line: code, message, a pointer to the command\'s --help, exit 2', () => {
    expect(report(new LarderError('LARDER_ERR_OPTION', '--port (LARDER_PORT) must be an integer'), 'serve')).toEqual({
      code: 2,
      text: 'larder: LARDER_ERR_OPTION: --port (LARDER_PORT) must be an integer\nRun "larder serve --help" for the options.',
    });
    expect(report(new LarderError('LARDER_ERR_USAGE', 'unknown command "x"'), undefined).text).toContain('Run "larder --help" for the commands.');
  });

  it('any other LarderError: one line and its exit code', () => {
    expect(report(new LarderError('LARDER_ERR_LISTEN', 'cannot listen on 127.0.0.1:1'), 'serve')).toEqual({ code: 1, text: 'larder: LARDER_ERR_LISTEN: cannot listen on 127.0.0.1:1' });
  });

  it('anything else is a bug: LARDER_ERR_INTERNAL with its stack', () => {
    const r = report(new TypeError('x is undefined'), 'build');
    expect(r.code).toBe(ERROR_CATALOG.LARDER_ERR_INTERNAL.exitCode);
    expect(r.text).toMatch(/^larder: LARDER_ERR_INTERNAL: x is undefined\nTypeError: x is undefined\n\s+at /);
  });
});

describe('errorsMarkdownTable', () => {
  it('has a row per code with its status, exit code and meaning', () => {
    const rows = errorsMarkdownTable().split('\n');
    expect(rows).toHaveLength(Object.keys(ERROR_CATALOG).length + 2);
    expect(rows).toContain('| `LARDER_ERR_TOO_MANY_ENTITIES` | 413 | 1 | The request asks for more entities than --max-entities allows. |');
    expect(rows).toContain(`| \`LARDER_ERR_USAGE\` | 400 | 2 | ${ERROR_CATALOG.LARDER_ERR_USAGE.meaning} |`);
  });
});

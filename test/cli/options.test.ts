/**
 * The option machinery every command shares (src/cli/options.ts): switches,
 * positional arguments, options that may be left out, and the help and
 * README table rendered from the same table.
 */
import { describe, expect, it } from 'vitest';
import { type CommandSpec, helpText, integer, nonEmpty, optionsMarkdownTable, parseCommand, switchValue } from '../../src/option-table.js';
import { LarderError } from '../../src/core/errors.js';

interface Args {
  repo: string;
  query?: string;
  out: string;
  limit?: number;
  json: boolean;
}

const COMMAND: CommandSpec<Args> = {
  name: 'try',
  about: 'A command for this test.',
  positionals: [
    { key: 'repo', name: 'repo', required: true, description: 'The repo folder.' },
    { key: 'query', name: 'query', required: false, description: 'Text to look for.' },
  ],
  options: [
    { key: 'out', flag: '--out', env: 'T_OUT', valueName: '<dir>', defaultText: undefined, description: 'Where output goes.', parse: nonEmpty('a folder') },
    { key: 'limit', flag: '--limit', env: 'T_LIMIT', valueName: '<n>', defaultText: undefined, whenUnset: 'no limit', description: 'At most n.', parse: integer(0, 10, 'an integer from 0 to 10') },
    { key: 'json', flag: '--json', env: 'T_JSON', defaultText: 'false', description: 'Print JSON.', parse: switchValue },
  ],
};

function parse(argv: string[], env: Record<string, string> = {}): Args {
  const r = parseCommand(COMMAND, argv, env);
  if (r.help) throw new Error('unexpected --help');
  return r.options;
}

function failure(argv: string[], env: Record<string, string> = {}): { code: string; message: string } {
  try {
    parse(argv, env);
  } catch (e) {
    if (e instanceof LarderError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('parseCommand', () => {
  it('reads positionals, leaves out what may be left out, and defaults switches', () => {
    expect(parse(['r', '--out', 'o'])).toEqual({ repo: 'r', out: 'o', json: false });
    expect(parse(['r', 'q', '--out=o', '--limit', '3', '--json'])).toEqual({ repo: 'r', query: 'q', out: 'o', limit: 3, json: true });
  });

  it('a switch reads its variable; its flag wins', () => {
    expect(parse(['r', '--out', 'o'], { T_JSON: '1' }).json).toBe(true);
    expect(parse(['r', '--out', 'o'], { T_JSON: 'false' }).json).toBe(false);
    expect(parse(['r', '--out', 'o', '--json'], { T_JSON: 'no' }).json).toBe(true);
    expect(parse(['r', '--out', 'o'], { T_JSON: '' }).json).toBe(false);
    expect(failure(['r', '--out', 'o'], { T_JSON: 'maybe' })).toEqual({
      code: 'LARDER_ERR_OPTION',
      message: '--json (T_JSON) must be true or false (or 1/0, yes/no, on/off), got "maybe" from T_JSON',
    });
  });

  it('a switch takes no value', () => {
    expect(failure(['r', '--out', 'o', '--json=yes'])).toMatchObject({ code: 'LARDER_ERR_USAGE', message: expect.stringContaining('--json') });
  });

  it('names a missing or surplus positional', () => {
    expect(failure(['--out', 'o'])).toEqual({ code: 'LARDER_ERR_USAGE', message: 'missing <repo>: The repo folder.' });
    expect(failure(['a', 'b', 'c', '--out', 'o'])).toEqual({ code: 'LARDER_ERR_USAGE', message: 'expected <repo> [query], got 3 arguments: "a" "b" "c"' });
  });

  it('names a required option with its variable, and a bad value with where it came from', () => {
    expect(failure(['r'])).toEqual({ code: 'LARDER_ERR_OPTION', message: '--out (or T_OUT) is required: Where output goes.' });
    expect(parse(['r'], { T_OUT: 'env' }).out).toBe('env');
    expect(failure(['r', '--out', 'o'], { T_LIMIT: '11' })).toEqual({ code: 'LARDER_ERR_OPTION', message: '--limit (T_LIMIT) must be an integer from 0 to 10, got "11" from T_LIMIT' });
    expect(failure(['r', '--out', 'o', '--limit', 'x'], { T_LIMIT: '1' }).message).toMatch(/got "x" from --limit$/);
  });

  it('--help wins over everything else', () => {
    expect(parseCommand(COMMAND, ['--help'], {})).toEqual({ help: true });
    expect(parseCommand(COMMAND, ['r', '-h', '--limit', 'x'], {})).toEqual({ help: true });
  });
});

describe('help and table come from the table', () => {
  it('help gives the usage, every argument and every option with its variable and default', () => {
    const help = helpText(COMMAND);
    expect(help.split('\n')[0]).toBe('usage: larder try <repo> [query] --out <dir> [options]');
    expect(help).toContain('  <repo>\n      The repo folder.');
    expect(help).toContain('  [query]\n      Text to look for.');
    expect(help).toContain('  --out <dir>\n      Where output goes.\n      env T_OUT; required');
    expect(help).toContain('  --limit <n>\n      At most n.\n      env T_LIMIT; default: no limit');
    expect(help).toContain('  --json\n      Print JSON.\n      env T_JSON; default false');
    expect(help).toContain('  -h, --help');
  });

  it('the Markdown table has a row per argument and option', () => {
    expect(optionsMarkdownTable(COMMAND).split('\n')).toEqual([
      '| Flag | Environment variable | Default | Description |',
      '| --- | --- | --- | --- |',
      '| `<repo>` | | (required) | The repo folder. |',
      '| `[query]` | | (none) | Text to look for. |',
      '| `--out <dir>` | `T_OUT` | (required) | Where output goes. |',
      '| `--limit <n>` | `T_LIMIT` | no limit | At most n. |',
      '| `--json` | `T_JSON` | `false` | Print JSON. |',
    ]);
  });
});

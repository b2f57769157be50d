/**
 * Keeps the README true: its quickstart commands run as written and print
 * what it shows, its code block is the example's real code, and its build
 * and serve options tables and its error table are the ones the code renders.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_COMMAND } from '../bundle-builder/commands/build.js';
import { errorsMarkdownTable } from '../src/cli/errors.js';
import { optionsMarkdownTable } from '../src/cli/options.js';
import { SERVE_COMMAND } from '../src/sidecar/options.js';

const README = readFileSync('README.md', 'utf8');

/** The fenced block right after `marker` in the README. */
function blockAfter(marker: string): string {
  const at = README.indexOf(marker);
  expect(at, `README lacks ${marker}`).toBeGreaterThan(-1);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(README.slice(at));
  return m![1]!;
}

describe('README', () => {
  it('the quickstart build and read.mjs print what the README shows', () => {
    // A copy inside the checkout, so `import 'larder'` resolves to this package.
    const dir = mkdtempSync(join(process.cwd(), 'examples', '.readme-test-'));
    try {
      cpSync('examples/quickstart', dir, { recursive: true, filter: (src) => !src.includes('/bundles') });
      const build = blockAfter('## Build a bundle').split('\n').find((l) => l.startsWith('node '))!;
      const [, ...args] = build.split(' ');
      execFileSync(process.execPath, args.map((a) => a.replace('../../', join(process.cwd(), '/'))), { cwd: dir, encoding: 'utf8' });
      const out = execFileSync(process.execPath, ['read.mjs'], { cwd: dir, encoding: 'utf8' });
      expect(out).toBe(blockAfter('<!-- read.mjs output'));
    } finally {
      execFileSync('rm', ['-rf', dir]);
    }
  });

  it('shows read.mjs as it is', () => {
    const code = blockAfter('[`examples/quickstart/read.mjs`]');
    const file = readFileSync('examples/quickstart/read.mjs', 'utf8');
    expect(file).toContain(code.trim().split('\n').slice(1).join('\n'));
  });

  it('shows the quickstart config as it is', () => {
    const code = blockAfter('[quickstart example]');
    expect(readFileSync('examples/quickstart/larder.config.ts', 'utf8')).toBe(code);
  });

  /** The generated table right under its marker comment, whole (so a removed row fails too). */
  function expectGenerated(marker: string, table: string): void {
    const at = README.indexOf(marker);
    expect(at, `README lacks ${marker}`).toBeGreaterThan(-1);
    const after = README.slice(at + marker.length + 1);
    const shown = after.slice(0, after.search(/\n(?!\|)/) + 1);
    expect(shown, `regenerate the table under ${marker}`).toBe(`${table}\n`);
  }

  it('lists the build options the code has', () => {
    expectGenerated('<!-- build options: generated from bundle-builder/commands/build.ts; test/readme.test.ts checks it -->', optionsMarkdownTable(BUILD_COMMAND));
  });

  it('lists the serve options the code has', () => {
    expectGenerated('<!-- serve options: generated from src/sidecar/options.ts; test/readme.test.ts checks it -->', optionsMarkdownTable(SERVE_COMMAND));
  });

  it('lists the error codes of the catalog', () => {
    expectGenerated('<!-- error codes: generated from src/core/errors.ts; test/readme.test.ts checks it -->', errorsMarkdownTable());
  });

  it('gives the two commands', () => {
    expect(README).toContain('npm ci && npm start');
    expect(README).toContain('npm ci && npm test');
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.scripts.start).toBe('node dist/src/cli.js demo');
  });
});

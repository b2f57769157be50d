/**
 * Keeps the README true: its quickstart commands run as written and print
 * what it shows, its code block is the example's real code, and its serve
 * options table is the one the code renders.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsMarkdownTable } from '../src/sidecar/options.js';

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

  it('lists the serve options the code has', () => {
    expect(README).toContain(optionsMarkdownTable());
  });

  it('gives the two commands', () => {
    expect(README).toContain('npm ci && npm start');
    expect(README).toContain('npm ci && npm test');
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.scripts.start).toBe('node dist/src/cli.js demo');
  });
});

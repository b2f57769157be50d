/**
 * `larder --version` and `-v`: the real CLI process prints the version of the
 * package it belongs to (its package.json, found from the CLI file, not the
 * working directory) and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(process.cwd(), 'dist/src/cli.js');
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const elsewhere = mkdtempSync(join(tmpdir(), 'larder-version-'));
afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

function larder(cli: string, ...args: string[]) {
  // Run from a folder with no package.json, as a user's shell would be.
  return spawnSync(process.execPath, [cli, ...args], { cwd: elsewhere, encoding: 'utf8' });
}

describe('larder --version', () => {
  it.each(['--version', '-v'])('%s prints the package version and exits 0', (flag) => {
    const r = larder(CLI, flag);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${VERSION}\n`);
    expect(r.status).toBe(0);
  });

  it('reads the version of the installed copy it runs from', () => {
    // An installed package: <pkg>/package.json beside <pkg>/dist/src/cli.js.
    const pkg = join(elsewhere, 'node_modules', 'larder-features');
    cpSync(join(process.cwd(), 'dist', 'src'), join(pkg, 'dist', 'src'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'larder-features', version: '9.8.7', type: 'module' }));
    const r = larder(join(pkg, 'dist', 'src', 'cli.js'), '--version');
    expect(r.stdout).toBe('9.8.7\n');
    expect(r.status).toBe(0);
  });

  it('the usage names it', () => {
    expect(larder(CLI, '--help').stdout).toContain('larder --version');
  });
});

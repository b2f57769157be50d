/**
 * Keeps the README true: its quickstart commands run as written and print
 * what it shows (read.mjs in process, and the Serve section's curl against
 * the real sidecar), its code block is the example's real code, and its
 * build and serve options tables and its error table are the ones the code
 * renders. Output blocks are compared whole, so updating one is pasting the
 * new output.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_COMMAND } from '../bundle-builder/commands/build.js';
import { MATERIALIZE_COMMAND } from '../bundle-builder/commands/materialize.js';
import { PUSH_COMMAND } from '../bundle-builder/commands/push.js';
import { SHADOW_COMMAND } from '../bundle-builder/commands/shadow.js';
import { TRAINING_COMMAND } from '../bundle-builder/commands/training.js';
import { errorsMarkdownTable } from '../src/cli/errors.js';
import { optionsMarkdownTable } from '../src/option-table.js';
import { SERVE_COMMAND } from '../src/sidecar/options.js';

const README = readFileSync('README.md', 'utf8');

/** The fenced block right after `marker` in the README. */
function blockAfter(marker: string): string {
  const at = README.indexOf(marker);
  expect(at, `README lacks ${marker}`).toBeGreaterThan(-1);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(README.slice(at));
  return m![1]!;
}

/** The README's shell lines in the block after `marker`, continuation lines joined. */
function commandsAfter(marker: string): string[] {
  return blockAfter(marker).replace(/\\\n\s*/g, '').split('\n').filter((l) => l.trim() !== '');
}

/** Resolves with the first stdout line of `child` matching `re`. */
function lineMatching(child: ChildProcess, re: RegExp, what: string): Promise<RegExpExecArray> {
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} in 30 s\nstdout: ${out}\nstderr: ${err}`)), 30_000);
    child.on('exit', (code) => reject(new Error(`exited with ${code} before ${what}\nstdout: ${out}\nstderr: ${err}`)));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

describe('README', () => {
  // A copy of the quickstart inside the checkout, so that the example's
  // `import 'larder-features'` resolves to this package, built by the
  // README's build command.
  let copy = '';
  beforeAll(() => {
    copy = mkdtempSync(join(process.cwd(), 'examples', '.readme-test-'));
    cpSync('examples/quickstart', copy, { recursive: true, filter: (src) => !src.includes('/bundles') });
    const build = commandsAfter('## Build a bundle').find((l) => l.startsWith('node '))!;
    const [, ...args] = build.split(' ');
    execFileSync(process.execPath, args.map((a) => a.replace('../../', join(process.cwd(), '/'))), { cwd: copy, encoding: 'utf8' });
  });
  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('the quickstart build and read.mjs print what the README shows', () => {
    const out = execFileSync(process.execPath, ['read.mjs'], { cwd: copy, encoding: 'utf8' });
    expect(out).toBe(blockAfter('<!-- read.mjs output'));
  });

  it("the Serve section's curl, sent to the real sidecar, prints what the README shows", async () => {
    const [serve, curl, ...rest] = commandsAfter('## Serve: the sidecar');
    expect(rest).toEqual([]);
    // node dist/src/cli.js serve --bundles examples/quickstart/bundles, on the
    // copy's bundles and a free port.
    const [node, ...args] = serve!.split(' ');
    expect(node).toBe('node');
    expect(args).toContain('examples/quickstart/bundles');
    const servedArgs = args.map((a) => (a === 'examples/quickstart/bundles' ? join(relative(process.cwd(), copy), 'bundles') : a));
    const child = spawn(process.execPath, [...servedArgs, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const [, url] = await lineMatching(child, /listening on (\S+) .*bundle quickstart v1/, 'listening line');
      // curl -s <url> -d '<body>': curl posts the body as a form.
      const m = /^curl -s http:\/\/127\.0\.0\.1:6566(\/\S+) -d '(.+)'$/.exec(curl!);
      expect(m, curl).not.toBeNull();
      const res = await fetch(url + m![1]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: m![2]! });
      expect(res.status).toBe(200);
      expect(`${await res.text()}\n`).toBe(blockAfter('<!-- serve curl output'));
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
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

  it('lists the materialize and push options the code has', () => {
    expectGenerated('<!-- materialize options: generated from bundle-builder/commands/materialize.ts; test/readme.test.ts checks it -->', optionsMarkdownTable(MATERIALIZE_COMMAND));
    expectGenerated('<!-- push options: generated from bundle-builder/commands/push.ts; test/readme.test.ts checks it -->', optionsMarkdownTable(PUSH_COMMAND));
  });

  it('lists the training and shadow options the code has', () => {
    expectGenerated('<!-- training options: generated from bundle-builder/commands/training.ts; test/readme.test.ts checks it -->', optionsMarkdownTable(TRAINING_COMMAND));
    expectGenerated('<!-- shadow options: generated from bundle-builder/commands/shadow.ts; test/readme.test.ts checks it -->', optionsMarkdownTable(SHADOW_COMMAND));
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

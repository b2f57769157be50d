/**
 * `larder serve` in a child process, as users run it (`npx tsc -p
 * tsconfig.json` first; `npm test` does). A client in the test process and
 * the sidecar then race as they do in production, which an in-process
 * sidecar sharing the client's event loop would hide.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli.js');

/** Throws unless dist/ holds a build newer than every sidecar source (a stale build would test old code). */
function checkBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npx tsc -p tsconfig.json" first`);
  for (const name of readdirSync(join(ROOT, 'src/sidecar')).filter((n) => n.endsWith('.ts'))) {
    const out = join(ROOT, 'dist/src/sidecar', name.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, 'src/sidecar', name)).mtimeMs) {
      throw new Error(`${out} is older than its source: run "npx tsc -p tsconfig.json" first`);
    }
  }
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `larder serve --port 0 <args>` and resolves once it listens. With
 * `fileLimit`, it runs under `ulimit -n <fileLimit>` (through bash).
 */
export async function startServe(args: string[], options: { fileLimit?: number; env?: Record<string, string> } = {}): Promise<ServeProcess> {
  checkBuild();
  const argv = [CLI, 'serve', '--port', '0', ...args];
  const env = { PATH: process.env.PATH ?? '', ...options.env };
  const child = options.fileLimit === undefined
    ? spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('bash', ['-c', `ulimit -n ${options.fileLimit} && exec "$0" "$@"`, process.execPath, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const deadline = Date.now() + 15_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /listening on (http:\/\/[^\s:]+:(\d+))/.exec(out))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`larder serve did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    url: m[1]!,
    port: Number(m[2]),
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

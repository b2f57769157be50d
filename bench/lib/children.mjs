/** Child processes for measurements that need a fresh process, and free ports. */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { pinned } from './pinning.mjs';

/**
 * Runs `node [nodeArgs] script args` (on core `core` when given) and
 * resolves with the JSON object the script prints as its last stdout line.
 * stderr passes through (progress).
 */
export function runJsonChild(script, args, { nodeArgs = [], cwd, env, core } = {}) {
  return new Promise((resolve, reject) => {
    const nodeArgv = [...nodeArgs, script, ...args];
    const [cmd, argv] = core === undefined ? [process.execPath, nodeArgv] : pinned(core, process.execPath, nodeArgv);
    const child = spawn(cmd, argv, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${script} ${args.join(' ')} exited with ${code ?? signal}:\n${out.slice(-2000)}`));
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${script} printed no JSON result; stdout ends with:\n${out.slice(-2000)}`));
      }
    });
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200, or rejects after `timeoutMs`. */
export async function waitForOk(url, timeoutMs, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`server exited before ${url} answered 200`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}

/**
 * Tools for bench/redis.mjs: a redis-server, sidecars and a bare node:http
 * server as child processes, a minimal keep-alive HTTP client (one request at a time, no
 * parsing beyond the status line and Content-Length, so the client adds as
 * little as a client can), and percentiles.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { answerHeaders, bareChannel } from './bare.mjs';
import { freePort } from './children.mjs';

const run = promisify(execFile);

export async function waitUntil(what, check, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A child process, killed when the bench exits. */
function child(cmd, args, opts = {}) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  process.once('exit', () => p.kill('SIGKILL'));
  return { proc: p, stderr: () => stderr };
}

export async function startRedis() {
  const port = await freePort();
  const c = child('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitUntil('redis-server', async () => (await run('redis-cli', ['-p', String(port), 'ping'], { timeout: 2000 })).stdout.trim() === 'PONG');
  return { port, url: `redis://127.0.0.1:${port}`, pid: c.proc.pid, stop: () => c.proc.kill('SIGKILL') };
}

/** `larder serve` in a child process; resolves once /ready answers 200. */
export async function startSidecar(root, args) {
  const port = await freePort();
  const c = child(process.execPath, [join(root, 'dist/src/cli.js'), 'serve', '--port', String(port), ...args]);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(`sidecar ${args.join(' ')}`, async () => (await fetch(`${url}/ready`)).status === 200, 60_000).catch((e) => {
    throw new Error(`${e.message}\n${c.stderr()}`);
  });
  return { url, port, pid: c.proc.pid, stop: () => c.proc.kill('SIGTERM') };
}

/**
 * bench/bare-server.mjs in a child process: node:http reading each body and
 * answering the bytes set by `setAnswer(body, headers)` (a sidecar answer
 * and its headers, so both servers write the same bytes).
 */
export async function startBare(root) {
  const port = await freePort();
  const c = child(process.execPath, [join(root, 'bench/bare-server.mjs'), String(port)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const { ready, setAnswer } = bareChannel(c.proc, c.stderr);
  await ready;
  return { url: `http://127.0.0.1:${port}`, port, pid: c.proc.pid, setAnswer, stop: () => c.proc.kill('SIGTERM') };
}

/** One answer of `url` to `body`: its text and its answer headers (for the bare server to send the same). */
export async function sampleAnswer(url, path, body) {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`sample answer: status ${r.status}: ${text.slice(0, 200)}`);
  return { body: text, headers: answerHeaders(r.headers) };
}

/**
 * One keep-alive connection sending POSTs one at a time. `post(body)`
 * resolves with { status, ms, body } once the whole response has arrived.
 */
export async function rawClient(port, path) {
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let pending;
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0 || !pending) return;
    const head = buf.subarray(0, end).toString('latin1');
    const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < end + 4 + length) return;
    const status = Number(head.slice(9, 12));
    const body = buf.subarray(end + 4, end + 4 + length);
    buf = buf.subarray(end + 4 + length);
    const p = pending;
    pending = undefined;
    p.resolve({ status, body, ms: Number(process.hrtime.bigint() - p.started) / 1e6 });
  });
  return {
    post(body) {
      const bytes = Buffer.from(body);
      return new Promise((resolve) => {
        pending = { resolve, started: process.hrtime.bigint() };
        socket.write(Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${bytes.length}\r\n\r\n`), bytes]));
      });
    },
    close: () => socket.destroy(),
  };
}

export function percentile(values, q) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

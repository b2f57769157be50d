/**
 * A body over --max-body-bytes is answered 413 before it has all arrived.
 * The client must be able to read that answer: Node's http client, curl and
 * Python's requests all keep sending after the 413 is written, and a server
 * that closed at once would reset the connection under them (EPIPE,
 * ECONNRESET). The sidecar drains what they still send, bounded, then
 * closes. With `Expect: 100-continue` it refuses before the upload starts.
 * The clients talk to `larder serve` in its own process, as in production:
 * a sidecar sharing the client's event loop hides the race.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINGER } from '../../src/sidecar/connections.js';
import { startServe, type ServeProcess } from './cli-process.js';
import { eventually, removeDir, tempDir, useShopSidecar, writeShopBundle } from './helpers.js';
import { commandWorks, rawExchange } from './raw-http.js';

const MAX_BODY = 1024 * 1024;
const TEN_MB = Buffer.alloc(10 * 1024 * 1024, 0x20); // JSON whitespace
const ok = { features: ['user_stats:clicks'], entities: { user_id: [1] } };
const BY_LENGTH = new RegExp(`request body is ${TEN_MB.length} bytes \\(Content-Length\\), more than the limit of ${MAX_BODY} bytes`);

let dir = '';
let bigFile = '';
let s: ServeProcess;
beforeAll(async () => {
  dir = await tempDir();
  bigFile = join(dir, 'big.json');
  await writeFile(bigFile, TEN_MB);
  await writeShopBundle(dir, 1);
  s = await startServe(['--bundles', dir, '--max-body-bytes', String(MAX_BODY)]);
});
afterAll(async () => {
  expect(await s?.stop()).toBe(0);
  await removeDir(dir);
});

interface Reply {
  /** 0 when no response was read. */
  status: number;
  body: string;
  /** The code of an error the client met (EPIPE, ECONNRESET), before or after the response. */
  error: string | undefined;
}

/**
 * POSTs with Node's http client and waits until the request is over (its
 * 'close'), recording any error on the way: an application using the
 * client sees such an error even when it comes after the response.
 */
function nodePost(body: Buffer, chunked = false): Promise<Reply> {
  const url = new URL(s.url);
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!chunked) headers['content-length'] = String(body.length);
    const reply: Reply = { status: 0, body: '', error: undefined };
    let pending = 1; // the request's close, and the response's once there is one
    const settle = () => --pending === 0 && resolve(reply);
    const req = request({ host: url.hostname, port: url.port, path: '/get-online-features', method: 'POST', headers }, (res) => {
      pending++;
      reply.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (d: string) => (reply.body += d));
      res.on('error', (e: NodeJS.ErrnoException) => (reply.error ??= e.code ?? e.message));
      res.on('close', settle);
    });
    req.on('error', (e: NodeJS.ErrnoException) => (reply.error ??= e.code ?? e.message));
    req.on('close', settle);
    if (!chunked) {
      req.end(body);
      return;
    }
    for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
    req.end();
  });
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string } }).error;

const hasCurl = commandWorks('curl', ['--version']);
const hasRequests = commandWorks('python3', ['-c', 'import requests']);

describe('a 10 MB body gets a 413 the client can read', () => {
  it("Node's http client, Content-Length: reads the 413 and its message, every time", async () => {
    for (let i = 0; i < 5; i++) {
      const reply = await nodePost(TEN_MB);
      expect(reply.error).toBeUndefined();
      expect(reply.status).toBe(413);
      expect(errorOf(reply.body)).toEqual({ code: 'LARDER_ERR_BODY_TOO_LARGE', message: expect.stringMatching(BY_LENGTH) });
    }
  });

  it("Node's http client, chunked (no Content-Length): reads the 413 given once the limit is passed", async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await nodePost(TEN_MB, true);
      expect(reply.error).toBeUndefined();
      expect(reply.status).toBe(413);
      expect(errorOf(reply.body).message).toMatch(`passed ${MAX_BODY} bytes while streaming`);
    }
  });

  it.skipIf(!hasCurl)('curl sending the whole body (no Expect) reads the 413', async () => {
    const r = await run('curl', ['-sS', '-H', 'Expect:', '-H', 'content-type: application/json', '--data-binary', `@${bigFile}`, '-w', '\n%{http_code}', `${s.url}/get-online-features`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [body, status] = r.stdout.split('\n');
    expect(status).toBe('413');
    expect(errorOf(body!).message).toMatch(BY_LENGTH);
  });

  it.skipIf(!hasRequests)("Python's requests reads the 413", async () => {
    const script = [
      'import json, sys, requests',
      `r = requests.post(sys.argv[1], data=open(sys.argv[2], 'rb').read(), headers={'content-type': 'application/json'})`,
      'print(r.status_code, r.json()["error"]["code"])',
    ].join('\n');
    const r = await run('python3', ['-c', script, `${s.url}/get-online-features`, bigFile]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('413 LARDER_ERR_BODY_TOO_LARGE');
  });

  it('the sidecar answers the next request as usual', async () => {
    await nodePost(TEN_MB);
    const res = await fetch(`${s.url}/get-online-features`, { method: 'POST', body: JSON.stringify(ok) });
    expect(res.status).toBe(200);
  });
});

describe('the drain after an early answer is bounded', () => {
  // A sidecar of its own, so that its open connections are this test's alone.
  const quiet = useShopSidecar({ maxBodyBytes: MAX_BODY });

  it(`a client that stalls mid-body is cut after ${LINGER.maxMs} ms`, async () => {
    const head = `POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${TEN_MB.length}\r\n\r\n`;
    // The client sends 2 MB of 10, then neither sends nor closes.
    let client: Socket | undefined;
    const exchange = rawExchange(quiet.sidecar.port, Buffer.concat([Buffer.from(head), TEN_MB.subarray(0, 2 * 1024 * 1024)]), {
      waitMs: 20_000,
      closeAfterServer: false,
      onSocket: (socket) => (client = socket),
    });
    await eventually(() => quiet.sidecar.openConnections === 1, 2000, 'the connection');
    const t0 = Date.now();
    await eventually(() => quiet.sidecar.openConnections === 0, LINGER.maxMs + 3000, 'the stalled connection to be cut');
    expect(Date.now() - t0).toBeGreaterThan(LINGER.maxMs - 1000);
    client!.destroy();
    const { responses } = await exchange;
    expect(responses[0]?.status).toBe(413);
  });

  it(`a client that keeps sending is cut after about ${LINGER.maxBytes / 1024 / 1024} MiB`, async () => {
    const head = `POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${1024 ** 4}\r\n\r\n`;
    let written = 0;
    const onSocket = (socket: Socket) => {
      const pump = () => {
        while (!socket.destroyed && written < 1024 ** 3) {
          written += TEN_MB.length;
          if (!socket.write(TEN_MB)) return void socket.once('drain', pump);
        }
      };
      pump();
    };
    const exchange = await rawExchange(quiet.sidecar.port, head, { waitMs: 20_000, onSocket, closeAfterServer: false });
    expect(exchange.responses[0]?.status).toBe(413);
    expect(exchange.closedByServer).toBe(true);
    expect(written).toBeGreaterThan(LINGER.maxBytes / 2);
    expect(written).toBeLessThan(LINGER.maxBytes + 64 * 1024 * 1024);
  });
});

describe('Expect: 100-continue', () => {
  const expectHead = (length: number) =>
    `POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;

  it('over the limit: 413 at once, without 100 Continue', async () => {
    const { text, responses, closedByServer } = await rawExchange(s.port, expectHead(TEN_MB.length));
    expect(text).not.toContain('100 Continue');
    expect(responses).toHaveLength(1);
    expect(responses[0]!.status).toBe(413);
    expect(responses[0]!.headers['content-type']).toBe('application/json');
    expect(errorOf(responses[0]!.body).message).toMatch(BY_LENGTH);
    expect(closedByServer).toBe(true);
  });

  it('within the limit: 100 Continue, then the answer to the body sent after it', async () => {
    const body = JSON.stringify(ok);
    const onSocket = (socket: Socket) => {
      socket.once('data', (d: Buffer) => {
        expect(d.toString('latin1')).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
        socket.end(body);
      });
    };
    const { responses } = await rawExchange(s.port, expectHead(Buffer.byteLength(body)), { onSocket });
    expect(responses.map((r) => r.status)).toEqual([100, 200]);
  });

  it.skipIf(!hasCurl)('curl (which sends Expect: 100-continue for a large body) gets the 413 at once and sends no body', async () => {
    const r = await run('curl', ['-sS', '-v', '-H', 'content-type: application/json', '--data-binary', `@${bigFile}`, '-w', '\n%{http_code} %{size_upload}', `${s.url}/get-online-features`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/> Expect: 100-continue/);
    expect(r.stderr).not.toMatch(/< HTTP\/1\.1 100/);
    const [body, summary] = r.stdout.split('\n');
    expect(summary).toBe('413 0');
    expect(errorOf(body!).message).toMatch(BY_LENGTH);
    // curl waits up to a second for 100 Continue before sending anyway.
    expect(r.ms).toBeLessThan(900);
  });
});

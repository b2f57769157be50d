/**
 * Connections as a pod sees them: a cap with a readable refusal, service
 * that survives running out of file descriptors, and a shutdown that ends
 * at the grace period whatever state the clients are in.
 */
import { Agent, request } from 'node:http';
import { type Socket, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from './cli-process.js';
import { eventually, removeDir, tempDir, useShopSidecar, writeShopBundle } from './helpers.js';
import { rawExchange } from './raw-http.js';

const ONLINE_BODY = JSON.stringify({ features: ['user_product:affinity'], entities: { user_id: [1], product_id: ['p1'] } });

/** One request through `agent` (false: a new connection); resolves with the status and body, or the error code. */
function call(port: number, agent: Agent | false, method = 'GET', path = '/health', body?: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

describe('--max-connections', () => {
  const s = useShopSidecar({ maxConnections: 3 });

  it('a connection over the cap is answered 503 with the JSON body; held connections keep being served; a closed one frees its place', async () => {
    const agents = [0, 1, 2].map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      for (const agent of agents) expect(await call(s.sidecar.port, agent)).toEqual({ status: 200, body: '{"status":"ok"}' });
      expect(s.sidecar.openConnections).toBe(3);

      const refused = await rawExchange(s.sidecar.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(refused.responses).toHaveLength(1);
      expect(refused.responses[0]!.status).toBe(503);
      expect(JSON.parse(refused.responses[0]!.body)).toEqual({
        error: { code: 'LARDER_ERR_TOO_MANY_CONNECTIONS', message: expect.stringMatching(/already holds 3 connections \(--max-connections\)/) },
      });
      expect(refused.closedByServer).toBe(true);

      // The three held connections are still answered, on the same sockets.
      for (const agent of agents) expect(await call(s.sidecar.port, agent, 'POST', '/get-online-features', ONLINE_BODY)).toMatchObject({ status: 200 });
      expect(s.sidecar.openConnections).toBe(3);

      agents[0]!.destroy();
      await eventually(() => s.sidecar.openConnections === 2, 2000, 'the closed connection to be let go');
      expect(await call(s.sidecar.port, false)).toEqual({ status: 200, body: '{"status":"ok"}' });
    } finally {
      for (const agent of agents) agent.destroy();
    }
  });
});

describe('larder serve (CLI) and its connections', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await tempDir();
    await writeShopBundle(dir, 1);
  });
  afterAll(async () => {
    await removeDir(dir);
  });

  it('when file descriptors run out, open connections are still answered, and new ones are accepted again once descriptors free up', async () => {
    const FILE_LIMIT = 256;
    const cli = await startServe(['--bundles', dir], { fileLimit: FILE_LIMIT });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const flood: Socket[] = [];
    try {
      expect(await call(cli.port, agent)).toMatchObject({ status: 200 });
      // More connections than the process has descriptors for. The ones it
      // cannot accept are closed by the server (libuv drops them).
      let dropped = 0;
      for (let i = 0; i < FILE_LIMIT + 150; i++) {
        const socket = connect(cli.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('close', () => dropped++);
        flood.push(socket);
      }
      await eventually(() => dropped >= 150, 10_000, 'connections beyond the descriptor limit to be dropped');

      // The keep-alive connection opened before still gets answers.
      expect(await call(cli.port, agent)).toEqual({ status: 200, body: '{"status":"ok"}' });
      const online = await call(cli.port, agent, 'POST', '/get-online-features', ONLINE_BODY);
      expect(online).toMatchObject({ status: 200 });
      // User 1 and product p1: a row with a TTL of 0, PRESENT on any date.
      expect((JSON.parse((online as { body: string }).body) as { results: { values: unknown[] }[] }).results[2]!.values).toEqual([0.9]);

      for (const socket of flood) socket.destroy();
      let again: Awaited<ReturnType<typeof call>> = { error: 'not tried' };
      await eventually(async () => 'status' in (again = await call(cli.port, false)), 10_000, 'a new connection to be answered');
      expect(again).toEqual({ status: 200, body: '{"status":"ok"}' });
      expect(cli.child.exitCode).toBeNull();
    } finally {
      for (const socket of flood) socket.destroy();
      agent.destroy();
      expect(await cli.stop()).toBe(0);
    }
  }, 60_000);

  it('SIGTERM with stuck clients exits at --shutdown-grace-ms, cutting every one of them', async () => {
    const GRACE = 500;
    const cli = await startServe(['--bundles', dir, '--shutdown-grace-ms', String(GRACE), '--max-body-bytes', '1024', '--max-connections', '4']);
    const stuck = [
      '', // connected, sends nothing
      'POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-', // half the headers
      `POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${ONLINE_BODY.length}\r\n\r\n${ONLINE_BODY.slice(0, 10)}`, // half the body
    ].map((bytes) => rawExchange(cli.port, bytes, { waitMs: 20_000 }));
    // Answered 413 and closing lingering, while it neither sends the rest nor closes.
    const refused = rawExchange(cli.port, `POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${1024 * 1024}\r\n\r\n${' '.repeat(4096)}`, {
      waitMs: 3000,
      closeAfterServer: false,
    });
    await new Promise((r) => setTimeout(r, 300));
    // A fifth connection, over --max-connections: answered 503, and it does not close either.
    const overCap = rawExchange(cli.port, '', { waitMs: 3000, closeAfterServer: false });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(GRACE - 50);
    expect(took).toBeLessThan(GRACE + 500);
    expect(cli.stderr()).toMatch(new RegExp(`cut 5 connection\\(s\\) still open after ${GRACE} ms`));
    for (const exchange of await Promise.all(stuck)) {
      expect(exchange.closedByServer).toBe(true);
      expect(exchange.ms).toBeLessThan(5000);
    }
    expect((await refused).responses[0]!.status).toBe(413);
    expect((await overCap).responses[0]!.status).toBe(503);
  }, 30_000);
});

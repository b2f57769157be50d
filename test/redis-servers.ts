/**
 * Real Redis servers for tests: a redis-server (or a 3-master Redis
 * Cluster) on free ports, no persistence, stopped by the test. Every wait
 * is bounded.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 5_000 });
  return stdout.trim();
}

export class RedisServer {
  private child: ChildProcess | undefined;
  constructor(readonly port: number, private readonly extraArgs: string[] = []) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), extraArgs);
    await server.restart();
    return server;
  }

  /** Starts (again) on the same port. */
  async restart(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extraArgs], { stdio: 'ignore' });
    await waitFor(`redis-server on port ${this.port}`, async () => (await cli(this.port, 'ping')) === 'PONG');
  }

  cli(...args: string[]): Promise<string> {
    return cli(this.port, ...args);
  }

  /** Kills the server at once (SIGKILL) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    this.child = undefined;
  }

  stop(): Promise<void> {
    return this.kill();
  }
}

/** A 3-master Redis Cluster (no replicas) on free ports. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[], private readonly dir: string) {}

  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  static async start(): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'larder-cluster-'));
    const nodes: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      nodes.push(new RedisServer(port, [
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '1000', '--dir', dir,
        // The surviving masters keep serving their slots while one is down.
        '--cluster-require-full-coverage', 'no',
      ]));
    }
    await Promise.all(nodes.map((n) => n.restart()));
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
    const cluster = new RedisCluster(nodes, dir);
    await cluster.waitHealthy();
    return cluster;
  }

  /** Waits until every node reports the cluster ok. */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    await waitFor('the cluster to be ok', async () => {
      for (const n of this.nodes) if (!(await n.cli('cluster', 'info')).includes('cluster_state:ok')) return false;
      return true;
    }, timeoutMs, 100);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A TCP server that accepts connections and never answers: a black-holed Redis. */
export async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A TCP proxy to a Redis that holds every reply for `delayMs`: a slow Redis. */
export async function slowProxy(targetPort: number, delayMs: () => number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d) => upstream.write(d));
    // Replies leave in order, each no sooner than delayMs() after it arrived.
    const queue: { at: number; data: Buffer }[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const pump = () => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.at <= Date.now()) {
        const { data } = queue.shift()!;
        if (!client.destroyed) client.write(data);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.at - Date.now());
    };
    upstream.on('data', (d: Buffer) => {
      queue.push({ at: Date.now() + delayMs(), data: d });
      if (!timer) timer = setTimeout(pump, Math.max(0, queue[0]!.at - Date.now()));
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * The origin: serves a folder of bundles to sidecars and devices over HTTP.
 *
 *   GET /bundles/latest          the newest bundle's manifest and where to get it,
 *                                with an ETag; 304 to a matching If-None-Match
 *   GET /bundles/<version>       the bundle file (ETag, Content-Length)
 *   GET /bundles/<version>.sig   its detached signature, 404 when unsigned
 *   GET /bundles/<version>/delta?from=<older>
 *                                a delta from <older> to <version> (core/bundle/delta.ts);
 *                                applied, it is exactly the bundle, which its .sig verifies
 *   GET /health
 *
 * The ETag of a version is its file's SHA-256, so an unchanged latest
 * costs a poller one 304 and no body. The folder is read on each request
 * (a listing and a stat): builds written into it are served as soon as
 * their rename lands. One project per folder, as for the sidecar: with
 * several, the one of the highest version is served.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { Readable } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { listBundles, readManifestFile } from '../bundle-file.js';
import { LarderError } from '../core/errors.js';
import { signaturePathFor } from '../core/sign/signature.js';
import { diffBundles } from '../core/bundle/delta.js';

export interface OriginOptions {
  bundles: string;
  host: string;
  port: number;
}

export interface Origin {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** SHA-256 of files, remembered while their size and mtime stay. */
class FileHashes {
  private readonly known = new Map<string, { stamp: string; sha256: string }>();
  async of(path: string): Promise<{ sha256: string; size: number }> {
    const s = await stat(path);
    const stamp = `${s.size}:${s.mtimeMs}`;
    const hit = this.known.get(path);
    if (hit?.stamp === stamp) return { sha256: hit.sha256, size: s.size };
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    const sha256 = hash.digest('hex');
    this.known.set(path, { stamp, sha256 });
    return { sha256, size: s.size };
  }
}

const errorBody = (e: LarderError) => JSON.stringify(e.toJSON());
const matches = (ifNoneMatch: string | undefined, etag: string) => ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === '*');

export function createOriginApp(dir: string): Hono {
  const app = new Hono();
  // Devices in browsers fetch from pages of other origins: let them, and let them read the ETag.
  app.use('*', cors({ origin: '*', allowMethods: ['GET'], allowHeaders: ['If-None-Match'], exposeHeaders: ['ETag', 'Content-Length', 'x-larder-bundle-version'] }));
  const hashes = new FileHashes();
  const fail = (e: LarderError) => new Response(errorBody(e), { status: e.httpStatus, headers: { 'content-type': 'application/json' } });

  /** The served project's bundles, newest first. */
  const bundles = async () => {
    const all = await listBundles(dir);
    const project = all[0]?.project;
    return all.filter((b) => b.project === project);
  };

  app.get('/health', (c) => c.json({ status: 'ok' }));

  app.get('/bundles/latest', async (c) => {
    const latest = (await bundles())[0];
    if (!latest) return fail(new LarderError('LARDER_ERR_NOT_READY', `no bundle in ${dir} yet`));
    const { sha256, size } = await hashes.of(latest.path);
    const etag = `"${sha256}"`;
    if (matches(c.req.header('if-none-match'), etag)) return new Response(null, { status: 304, headers: { etag } });
    const manifest = await readManifestFile(latest.path).catch(() => undefined);
    const signed = await stat(signaturePathFor(latest.path)).then(() => true, () => false);
    c.header('etag', etag);
    c.header('cache-control', 'no-cache');
    return c.json({
      project: latest.project,
      version: latest.version,
      sha256,
      bytes: size,
      url: `/bundles/${latest.version}`,
      signatureUrl: signed ? `/bundles/${latest.version}.sig` : null,
      manifest: manifest ?? null,
    });
  });

  /** Deltas made lately, by "from->to" and the files' hashes: a fleet asks for the same ones. */
  const deltas = new Map<string, Uint8Array>();
  app.get('/bundles/:version/delta', async (c) => {
    const to = Number(/^\d{1,15}$/.test(c.req.param('version')) ? c.req.param('version') : NaN);
    const fromText = c.req.query('from') ?? '';
    const from = Number(/^\d{1,15}$/.test(fromText) ? fromText : NaN);
    if (!Number.isSafeInteger(to) || !Number.isSafeInteger(from) || from >= to) {
      return fail(new LarderError('LARDER_ERR_BAD_REQUEST', 'a delta is GET /bundles/<version>/delta?from=<an older version>'));
    }
    const all = await bundles();
    const [older, newer] = [all.find((b) => b.version === from), all.find((b) => b.version === to)];
    if (!older || !newer) return fail(new LarderError('LARDER_ERR_UNKNOWN_VERSION', `no bundle of version ${!older ? from : to} in ${dir}`));
    const [a, b] = [await hashes.of(older.path), await hashes.of(newer.path)];
    const key = `${a.sha256}->${b.sha256}`;
    let delta = deltas.get(key);
    if (!delta) {
      delta = await diffBundles(new Uint8Array(await readFile(older.path)), new Uint8Array(await readFile(newer.path)), { sha256: async (bytes) => createHash('sha256').update(bytes).digest('hex') });
      deltas.set(key, delta);
      // A few recent pairs: deltas are small, but not kept forever.
      if (deltas.size > 16) deltas.delete(deltas.keys().next().value!);
    }
    return new Response(delta as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(delta.length), 'x-larder-bundle-version': String(to) } });
  });

  app.get('/bundles/:file', async (c) => {
    const m = /^(\d{1,15})(\.sig)?$/.exec(c.req.param('file'));
    if (!m) return fail(new LarderError('LARDER_ERR_NOT_FOUND', 'no such route: GET /bundles/latest, /bundles/<version> or /bundles/<version>.sig'));
    const version = Number(m[1]);
    const found = (await bundles()).find((b) => b.version === version);
    if (!found) return fail(new LarderError('LARDER_ERR_UNKNOWN_VERSION', `no bundle of version ${version} in ${dir}`));
    if (m[2]) {
      const sig = await readFile(signaturePathFor(found.path), 'utf8').catch(() => undefined);
      if (sig === undefined) return fail(new LarderError('LARDER_ERR_UNKNOWN_VERSION', `bundle version ${version} is not signed`));
      return c.body(sig, 200, { 'content-type': 'application/json' });
    }
    const { sha256, size } = await hashes.of(found.path);
    const etag = `"${sha256}"`;
    if (matches(c.req.header('if-none-match'), etag)) return new Response(null, { status: 304, headers: { etag } });
    const body = Readable.toWeb(createReadStream(found.path)) as ReadableStream<Uint8Array>;
    return new Response(body, { status: 200, headers: { etag, 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-larder-bundle-version': String(version) } });
  });

  app.notFound(() => fail(new LarderError('LARDER_ERR_NOT_FOUND', 'no such route: GET /bundles/latest, /bundles/<version>, /bundles/<version>.sig, /health')));
  app.onError((err) => {
    if (err instanceof LarderError) return fail(err);
    console.error(`origin: unexpected error: ${err.stack ?? err.message}`);
    return fail(new LarderError('LARDER_ERR_INTERNAL', 'internal error: the origin logged the details'));
  });
  return app;
}

export async function startOrigin(opts: OriginOptions): Promise<Origin> {
  const server: Server = createServer(getRequestListener(createOriginApp(opts.bundles).fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new LarderError('LARDER_ERR_LISTEN', `cannot listen on ${opts.host}:${opts.port}: ${e.message}`, { cause: e })));
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

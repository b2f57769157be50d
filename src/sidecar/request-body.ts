/**
 * Reads a request body as JSON within a byte limit. The limit is counted on
 * the bytes that actually arrive, so a chunked body (no Content-Length) is
 * cut off as soon as it passes the limit; a Content-Length over the limit is
 * refused before a byte is read. Under @hono/node-server the body is read
 * straight from Node's IncomingMessage (no web stream in between: this is
 * the hot path); elsewhere (app.request in tests, other runtimes) from the
 * Request's web stream.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { LarderError } from '../core/errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

const tooLarge = (what: string, maxBytes: number) =>
  new LarderError('LARDER_ERR_BODY_TOO_LARGE', `request body ${what}, more than the limit of ${maxBytes} bytes (--max-body-bytes)`);

/**
 * Media types a JSON body may arrive under. Feast's documented curl
 * examples send `-d '{...}'` without a Content-Type, which curl labels
 * application/x-www-form-urlencoded, so that label is accepted too.
 */
function acceptsContentType(header: string | undefined): boolean {
  if (!header) return true;
  const semi = header.indexOf(';');
  const type = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || type === 'text/plain' || type === 'application/x-www-form-urlencoded' || type === '';
}

/** Reads one request header (lower-case name). */
export type HeaderReader = (name: string) => string | undefined;

/** The headers of a Node request: its own header object is a plain lookup. */
export const incomingHeader = (incoming: IncomingMessage): HeaderReader => (name) => incoming.headers[name] as string | undefined;

/** Refuses, before reading the body, what its headers already show to be bad. */
export function checkBodyHeaders(header: HeaderReader, maxBytes: number): void {
  const contentType = header('content-type');
  if (!acceptsContentType(contentType)) {
    throw new LarderError('LARDER_ERR_BAD_REQUEST', `content-type ${JSON.stringify(contentType)} is not supported: send the request as JSON (application/json)`);
  }
  const encoding = header('content-encoding');
  if (encoding && encoding.trim().toLowerCase() !== 'identity') {
    throw new LarderError('LARDER_ERR_BAD_REQUEST', `content-encoding ${JSON.stringify(encoding)} is not supported: send the body uncompressed`);
  }
  const declared = header('content-length');
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(`is ${declared} bytes (Content-Length)`, maxBytes);
}

/**
 * Reads a request's body once and calls `done` once, with the bytes or a
 * LarderError. Callback-based so that the hot path needs no promise.
 */
export type BodyReader = (done: (err: LarderError | undefined, body?: Uint8Array) => void) => void;

/** The body a BodyReader reads, as a promise, for routes off the hot path. */
export function readBodyAsync(read: BodyReader): Promise<Uint8Array> {
  return new Promise((resolve, reject) => read((err, body) => (err ? reject(err) : resolve(body!))));
}

/**
 * How to read a request under Hono: straight from Node's IncomingMessage
 * when @hono/node-server runs the app (no web stream in between), else from
 * the Request's web stream (app.request in tests, other runtimes).
 */
export function honoBodyReader(c: Context, maxBytes: number): { header: HeaderReader; read: BodyReader } {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) {
    return { header: incomingHeader(incoming), read: (done) => collectIncoming(incoming, maxBytes, done) };
  }
  const read: BodyReader = (done) => {
    readWebStream(c.req.raw.body, maxBytes).then(
      (body) => done(undefined, body),
      (e: unknown) => done(e instanceof LarderError ? e : new LarderError('LARDER_ERR_BAD_REQUEST', `request body could not be read: ${(e as Error).message}`)),
    );
  };
  return { header: (name) => c.req.header(name), read };
}

/** Decodes UTF-8 strictly and parses JSON; every failure is a 400 naming the problem. */
export function parseJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) {
    throw new LarderError('LARDER_ERR_BAD_JSON', 'request body is empty: send a JSON object with "features" (or "feature_service") and "entities"');
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new LarderError('LARDER_ERR_BAD_JSON', 'request body is not valid UTF-8 text');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LarderError('LARDER_ERR_BAD_JSON', `request body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Collects the body of `incoming` and calls `done` once, with the bytes or a
 * LarderError. Callback-based so that the hot path needs no promise.
 */
export function collectIncoming(incoming: IncomingMessage, maxBytes: number, done: (err: LarderError | undefined, body?: Uint8Array) => void): void {
  if (incoming.destroyed) {
    done(new LarderError('LARDER_ERR_BAD_REQUEST', 'the client closed the connection before sending the whole body'));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const cleanup = () => {
    incoming.off('data', onData);
    incoming.off('end', onEnd);
    incoming.off('error', onError);
    incoming.off('close', onClose);
  };
  // Past the limit the rest of the body is left to the caller: serve.ts
  // answers 413 at once and drains the rest, bounded (connections.ts).
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBytes) {
      cleanup();
      done(tooLarge(`passed ${maxBytes} bytes while streaming`, maxBytes));
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => {
    cleanup();
    done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onError = (e: Error) => {
    cleanup();
    done(new LarderError('LARDER_ERR_BAD_REQUEST', `request body could not be read: ${e.message}`));
  };
  const onClose = () => {
    cleanup();
    done(new LarderError('LARDER_ERR_BAD_REQUEST', 'the client closed the connection before sending the whole body'));
  };
  incoming.on('data', onData);
  incoming.on('end', onEnd);
  incoming.on('error', onError);
  incoming.on('close', onClose);
}

export async function readWebStream(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`passed ${maxBytes} bytes while streaming`, maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

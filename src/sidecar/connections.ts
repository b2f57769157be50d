/**
 * The sidecar's connections, below the routes: how long a client may take
 * to send a request, how many connections may be open, what a client that
 * breaks HTTP is told, and how a connection answered early is closed
 * without destroying the answer.
 *
 * The answers written here are whole HTTP/1.1 responses written straight to
 * the socket, always ending the connection. They serve where node:http has
 * no response to give (a request it could not parse, a connection over the
 * cap) and where its response would close too early: node:http destroys a
 * `Connection: close` socket as soon as the response is written, and a
 * socket destroyed while the client is still sending resets the connection,
 * so the client meets EPIPE or ECONNRESET instead of reading the answer.
 */
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorCode, LarderError } from '../core/errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** Timeouts for clients on localhost, which send a request in one go. */
export const HTTP_TIMEOUTS = {
  /** From connecting, or from a request's first byte, until its headers are in; then 408. */
  headersMs: 5_000,
  /** From a request's first byte until its whole body is in; then 408. */
  requestMs: 10_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: 5_000,
  /** How often node:http checks the two request timeouts; its default (30 s) would let them overrun by as much. */
  checkEveryMs: 500,
} as const;

/**
 * Bounds of a lingering close (as nginx's `lingering_close`): after an
 * answer sent before the client finished sending, what it still sends is
 * read and dropped, up to this many bytes and milliseconds, or until the
 * client closes its side, so the client can finish writing and read the
 * answer. Past the bounds the connection is cut.
 */
export const LINGER = { maxBytes: 64 * 1024 * 1024, maxMs: 5_000 } as const;

/** The metrics route label of answers given below any route (malformed requests, timeouts, refused connections). */
export const CONNECTION_ROUTE = 'connection';

/** Sockets given their last answer (written, or waiting for the response before it): nothing more is written to them. */
const answered = new WeakSet<Socket>();

/** A whole HTTP/1.1 response that closes its connection. */
function rawResponse(status: number, headers: Readonly<Record<string, string>>, body: string | Uint8Array): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (name !== 'content-length' && name !== 'connection') head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${bytes.length}\r\nconnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}

/**
 * Writes a response to `socket` and closes it lingering (see LINGER).
 * Returns false, writing nothing, on a socket already answered this way or
 * already gone, so a second error on one connection cannot write a second
 * answer.
 */
function answerAndClose(socket: Socket, status: number, headers: Readonly<Record<string, string>>, body: string | Uint8Array): boolean {
  if (socket.destroyed || answered.has(socket)) return false;
  answered.add(socket);
  writeAndLinger(socket, rawResponse(status, headers, body));
  return true;
}

function writeAndLinger(socket: Socket, response: Buffer): void {
  if (!socket.writable) return; // gone, or closed by the response before this one
  socket.write(response);
  socket.end(); // our FIN follows the answer; the client's side stays open to be drained
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, LINGER.maxMs);
  timer.unref();
  let drained = 0;
  socket.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > LINGER.maxBytes) cut();
  });
  // The client has sent all it will: close once the answer is flushed.
  socket.on('end', () => (socket.writableFinished ? cut() : socket.once('finish', cut)));
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
}

/**
 * Answers a request before its body has all arrived (a 413, a refused
 * expectation) and closes its connection lingering. The body still coming
 * is read and dropped. The request's ServerResponse is left unused and is
 * discarded with the connection.
 */
export function answerEarly(req: IncomingMessage, status: number, headers: Readonly<Record<string, string>>, body: string | Uint8Array): boolean {
  req.resume();
  return answerAndClose(req.socket, status, headers, body);
}

/** Plain words for the parse errors clients meet most; other codes keep llhttp's reason alone. */
const PARSE_ERROR_HINTS: Readonly<Record<string, string>> = {
  HPE_INVALID_METHOD: 'the request line must be METHOD /path HTTP/1.1',
  HPE_INVALID_URL: 'the request line must be METHOD /path HTTP/1.1',
  HPE_INVALID_CONSTANT: 'the request line must be METHOD /path HTTP/1.1',
  HPE_INVALID_VERSION: 'the request line must be METHOD /path HTTP/1.1, ending in CRLF',
  HPE_CR_EXPECTED: 'lines must end in CRLF, not a bare LF',
  HPE_LF_EXPECTED: 'lines must end in CRLF',
  HPE_INVALID_CONTENT_LENGTH: 'Content-Length must be one non-negative decimal integer',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length must be given once',
  HPE_INVALID_TRANSFER_ENCODING: 'send either Content-Length or Transfer-Encoding: chunked, not both',
  HPE_INVALID_CHUNK_SIZE: 'each chunk of a chunked body starts with its size in hexadecimal and CRLF',
  HPE_INVALID_HEADER_TOKEN: 'header names are tokens (letters, digits, -) followed by a colon',
};

/** What a client that broke HTTP is told; the code gives the status (400, 408, 413, 431). */
function clientErrorAnswer(err: NodeJS.ErrnoException & { reason?: string }): LarderError {
  const code = err.code ?? '';
  const error = (c: ErrorCode, message: string) => new LarderError(c, message);
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return error('LARDER_ERR_REQUEST_TIMEOUT', `request not received in time: its headers must arrive within ${HTTP_TIMEOUTS.headersMs} ms and the whole request within ${HTTP_TIMEOUTS.requestMs} ms`);
    case 'HPE_HEADER_OVERFLOW':
      return error('LARDER_ERR_HEADERS_TOO_LARGE', `request headers are larger than ${maxHeaderSize} bytes`);
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return error('LARDER_ERR_BODY_TOO_LARGE', 'chunk extensions of the request body are too large');
  }
  const reason = err.reason ?? err.message;
  const hint = PARSE_ERROR_HINTS[code];
  return error('LARDER_ERR_BAD_REQUEST', `malformed HTTP request: ${reason}${hint ? ` (${hint})` : ''}${code ? ` [${code}]` : ''}`);
}

/** The response node:http is writing on `socket`, if any (node:http's own clientError default checks the same). */
const inFlightResponse = (socket: Socket): ServerResponse | undefined => (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;

export interface ConnectionGuardOptions {
  /** Most connections open at once; more are answered 503 and closed. */
  maxConnections: number;
  log: Logger;
  metrics: Metrics;
  /** Headers every connection-level answer carries (the bundle version). */
  headers: () => Record<string, string>;
}

export interface ConnectionGuard {
  /** Open connections, refused ones included. */
  readonly open: number;
  /** Destroys every open connection; returns how many there were. */
  cutAll(): number;
}

/**
 * Sets `server`'s timeouts and takes charge of its connections: counts them
 * and refuses those over the cap, answers clients that break HTTP with the
 * JSON error body, and keeps the server up when accepting fails (EMFILE:
 * no file descriptor left), so connections already open are still served.
 * Call before `listen`.
 */
export function guardConnections(server: Server, options: ConnectionGuardOptions): ConnectionGuard {
  const { maxConnections, log, metrics } = options;
  server.headersTimeout = HTTP_TIMEOUTS.headersMs;
  server.requestTimeout = HTTP_TIMEOUTS.requestMs;
  server.keepAliveTimeout = HTTP_TIMEOUTS.keepAliveMs;

  const errorResponse = (error: LarderError) => rawResponse(error.httpStatus, { ...options.headers(), 'content-type': 'application/json' }, JSON.stringify(error.toJSON()));
  const answerError = (socket: Socket, error: LarderError) => {
    if (socket.destroyed || answered.has(socket)) return;
    answered.add(socket);
    metrics.observeRequest(CONNECTION_ROUTE, error.httpStatus, 0);
    // Bytes that break HTTP after a whole request (pipelined): that
    // request's response goes first, then this answer.
    const pending = inFlightResponse(socket);
    if (pending && pending.req.complete) pending.once('finish', () => writeAndLinger(socket, errorResponse(error)));
    else writeAndLinger(socket, errorResponse(error));
  };

  // node:http takes each accepted socket in its own 'connection' listener;
  // a socket over the cap is answered here instead and never reaches it.
  const sockets = new Set<Socket>();
  let admitted = 0;
  const httpListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    const refused = admitted >= maxConnections;
    if (!refused) admitted++;
    socket.once('close', () => {
      sockets.delete(socket);
      if (!refused) admitted--;
    });
    if (!refused) {
      for (const listener of httpListeners) listener.call(server, socket);
      return;
    }
    // Without node:http's listener nobody else handles this socket's errors.
    socket.on('error', () => socket.destroy());
    answerError(socket, new LarderError('LARDER_ERR_TOO_MANY_CONNECTIONS', `the sidecar already holds ${maxConnections} connections (--max-connections); reuse keep-alive connections or retry later`));
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (answered.has(socket)) return; // it closes within LINGER's bounds
    // A peer that reset cannot read an answer, and one whose unfinished
    // request already has a response on the wire would read ours inside it.
    const pending = inFlightResponse(socket);
    if (err.code === 'ECONNRESET' || !socket.writable || (pending && !pending.req.complete && pending.headersSent)) {
      socket.destroy();
      return;
    }
    answerError(socket, clientErrorAnswer(err));
  });

  // After listening, 'error' means accepting failed. When descriptors run
  // out (EMFILE), libuv mostly copes alone by closing the connections
  // waiting to be accepted; when it cannot, it reports the error, which
  // without this listener would end the process. Connections already open
  // need no new descriptor, so the server stays up; the warning is logged
  // at most once per burst.
  let lastWarnMs = -Infinity;
  let unwarned = 0;
  server.on('listening', () => {
    server.on('error', (e: NodeJS.ErrnoException) => {
      const now = Date.now();
      if (now - lastWarnMs < 10_000) {
        unwarned++;
        return;
      }
      const more = unwarned > 0 ? ` (${unwarned} more since the last warning)` : '';
      const fds = e.code === 'EMFILE' || e.code === 'ENFILE' ? ': out of file descriptors; raise the limit (ulimit -n) or lower --max-connections' : '';
      log.warn(`cannot accept a connection: ${e.message}${fds}${more}; connections already open are still served`);
      lastWarnMs = now;
      unwarned = 0;
    });
  });

  return {
    get open() {
      return sockets.size;
    },
    cutAll() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      return count;
    },
  };
}

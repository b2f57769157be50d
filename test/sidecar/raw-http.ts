/**
 * HTTP/1.1 spoken over a bare net.Socket, for what a well-behaved client
 * library never sends: malformed requests, stalls, expectations.
 */
import { type Socket, connect } from 'node:net';
import { spawnSync } from 'node:child_process';

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** The responses in `text`, in order (bodies by Content-Length). */
  responses: RawResponse[];
  /** The server closed the connection (rather than the wait running out). */
  closedByServer: boolean;
  /** Milliseconds from connecting to the close or the end of the wait. */
  ms: number;
}

/** Splits a byte stream of responses (each with a Content-Length, or none and no body). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const [statusLine, ...lines] = text.slice(at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    // latin1 text holds one character per byte, so lengths in bytes index it.
    const length = Number(headers['content-length'] ?? 0);
    const body = Buffer.from(text.slice(end + 4, end + 4 + length), 'latin1').toString('utf8');
    out.push({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? NaN), headers, body });
    at = end + 4 + length;
  }
  return out;
}

export interface RawOptions {
  /** How long to wait for the server to close (default 3000 ms). */
  waitMs?: number;
  /** Called once connected and `data` is written, to write more. */
  onSocket?: (socket: Socket) => void;
  /**
   * Whether the client closes its side once the server has closed its own
   * (default true, as HTTP clients do); false models a client still
   * sending, or one that never closes.
   */
  closeAfterServer?: boolean;
}

/**
 * Connects to `port`, writes `data`, and collects what the server sends
 * until it closes or `waitMs` passes. The client never closes its side
 * first, so a close is always the server's doing.
 */
export function rawExchange(port: number, data: string | Buffer, options: RawOptions = {}): Promise<RawExchange> {
  const { waitMs = 3000, onSocket, closeAfterServer = true } = options;
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let serverClosed = false;
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, responses: parseResponses(text), closedByServer: serverClosed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => {
      socket.destroy();
    }, waitMs);
    socket.on('connect', () => {
      if (data.length > 0) socket.write(data);
      onSocket?.(socket);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      serverClosed = true;
      if (closeAfterServer) socket.end();
    });
    socket.on('error', () => {
      serverClosed = true;
    });
    socket.on('close', finish);
  });
}

/** Whether a command runs here (`curl --version`), to skip what the machine lacks. */
export function commandWorks(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/**
 * Requests that break HTTP itself never reach a route, yet get the same
 * `{"error": {"code", "message"}}` body as every other bad request, a
 * status that says what broke (400, 408, 417, 431), and a closed
 * connection. Sent as raw bytes: no client library sends these.
 */
import { describe, expect, it } from 'vitest';
import { HTTP_TIMEOUTS } from '../../src/sidecar/connections.js';
import { useShopSidecar } from './helpers.js';
import { type RawExchange, rawExchange } from './raw-http.js';

const s = useShopSidecar();

const ONLINE = 'POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
const BODY = JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [1] } });

/** Expects exactly one answer, a JSON error with `status` and `code`, its message matching `message`, and the connection closed. */
function expectJsonError(exchange: RawExchange, status: number, code: string, message: RegExp): void {
  expect(exchange.responses, exchange.text).toHaveLength(1);
  const [answer] = exchange.responses;
  expect(answer!.status).toBe(status);
  expect(answer!.headers['content-type']).toBe('application/json');
  expect(answer!.headers.connection).toBe('close');
  expect(answer!.headers['x-larder-bundle-version']).toBe('1');
  const body = JSON.parse(answer!.body) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(message);
  expect(exchange.closedByServer).toBe(true);
}

describe('malformed HTTP gets the JSON error body', () => {
  const cases: [string, string, number, string, RegExp][] = [
    ['a request line that is not one', 'GARBAGE\r\n\r\n', 400, 'LARDER_ERR_BAD_REQUEST', /malformed HTTP request: .*request line must be METHOD \/path HTTP\/1\.1/],
    ['a space inside the path', 'GET /heal th HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'LARDER_ERR_BAD_REQUEST', /malformed HTTP request: .*request line/],
    ['an unknown HTTP version', 'GET /health HTTP/7.0\r\nHost: x\r\n\r\n', 400, 'LARDER_ERR_BAD_REQUEST', /malformed HTTP request: Invalid HTTP version/],
    ['a Content-Length that is not a number', `${ONLINE}Content-Length: 12abc\r\n\r\n${BODY}`, 400, 'LARDER_ERR_BAD_REQUEST', /Content-Length must be one non-negative decimal integer/],
    ['a negative Content-Length', `${ONLINE}Content-Length: -5\r\n\r\n${BODY}`, 400, 'LARDER_ERR_BAD_REQUEST', /Content-Length/],
    ['two Content-Lengths', `${ONLINE}Content-Length: ${BODY.length}\r\nContent-Length: 3\r\n\r\n${BODY}`, 400, 'LARDER_ERR_BAD_REQUEST', /Content-Length must be given once/],
    ['Content-Length with Transfer-Encoding', `${ONLINE}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'LARDER_ERR_BAD_REQUEST', /not both/],
    ['a chunk size that is not hexadecimal', `${ONLINE}Transfer-Encoding: chunked\r\n\r\nzz\r\n${BODY}\r\n0\r\n\r\n`, 400, 'LARDER_ERR_BAD_REQUEST', /chunk size/],
    ['a bare LF ending the request line', 'GET /health HTTP/1.1\nHost: x\n\n', 400, 'LARDER_ERR_BAD_REQUEST', /CRLF/],
    ['a bare LF ending a header', 'GET /health HTTP/1.1\r\nHost: x\nAccept: */*\r\n\r\n', 400, 'LARDER_ERR_BAD_REQUEST', /CRLF/],
    ['a header name with a space', 'GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 400, 'LARDER_ERR_BAD_REQUEST', /header names/],
    ['no Host header in HTTP/1.1', 'GET /health HTTP/1.1\r\n\r\n', 400, 'LARDER_ERR_BAD_REQUEST', /must carry a Host header/],
    ['no Host header on the online route', `POST /get-online-features HTTP/1.1\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`, 400, 'LARDER_ERR_BAD_REQUEST', /Host header/],
    ['headers larger than 16 KiB', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'LARDER_ERR_HEADERS_TOO_LARGE', /request headers are larger than 16384 bytes/],
    ['an expectation other than 100-continue', `${ONLINE}Expect: something-else\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`, 417, 'LARDER_ERR_EXPECTATION_FAILED', /Expect: "something-else" is not supported; the only expectation is 100-continue/],
  ];
  for (const [name, bytes, status, code, message] of cases) {
    it(`${name}: ${status} ${code}`, async () => {
      expectJsonError(await rawExchange(s.sidecar.port, bytes), status, code, message);
    });
  }

  it('an echoed Expect value is cut to 64 characters', async () => {
    const exchange = await rawExchange(s.sidecar.port, `GET /health HTTP/1.1\r\nHost: x\r\nExpect: ${'x'.repeat(5000)}\r\n\r\n`);
    expectJsonError(exchange, 417, 'LARDER_ERR_EXPECTATION_FAILED', /^Expect: "x{64}\.\.\." \(5000 characters\) is not supported/);
  });

  it('a malformed request pipelined after a good one: the good one is answered first, then the 400', async () => {
    const exchange = await rawExchange(s.sidecar.port, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n');
    expect(exchange.responses.map((r) => r.status)).toEqual([200, 400]);
    expect(JSON.parse(exchange.responses[0]!.body)).toEqual({ status: 'ok' });
    expect((JSON.parse(exchange.responses[1]!.body) as { error: { code: string } }).error.code).toBe('LARDER_ERR_BAD_REQUEST');
    expect(exchange.closedByServer).toBe(true);
  });

  it('a client that sends much more after the malformed bytes still reads the 400', async () => {
    const exchange = await rawExchange(s.sidecar.port, Buffer.concat([Buffer.from('GARBAGE\r\n\r\n'), Buffer.alloc(4 * 1024 * 1024, 0x61)]));
    expectJsonError(exchange, 400, 'LARDER_ERR_BAD_REQUEST', /malformed HTTP request/);
  });

  it('the sidecar keeps answering, and counts these answers in /metrics', async () => {
    expect((await s.get('/health')).status).toBe(200);
    const metrics = await (await s.get('/metrics')).text();
    expect(metrics).toMatch(/larder_http_requests_total\{route="connection",status="400"\} [1-9]/);
    expect(metrics).toMatch(/larder_http_requests_total\{route="connection",status="431"\} 1\n/);
  });
});

describe('a request that does not arrive in time: 408 with the JSON body', () => {
  it(`headers not in after ${HTTP_TIMEOUTS.headersMs} ms (a silent connection, half a request line), or a body stalled for ${HTTP_TIMEOUTS.requestMs} ms`, async () => {
    const [silent, half, stalled] = await Promise.all([
      rawExchange(s.sidecar.port, '', { waitMs: 20_000 }),
      rawExchange(s.sidecar.port, 'GET /hea', { waitMs: 20_000 }),
      rawExchange(s.sidecar.port, `${ONLINE}Content-Length: ${BODY.length}\r\n\r\n${BODY.slice(0, 10)}`, { waitMs: 20_000 }),
    ]);
    // node:http checks the timeouts every HTTP_TIMEOUTS.checkEveryMs.
    const slack = HTTP_TIMEOUTS.checkEveryMs + 1000;
    for (const exchange of [silent, half]) {
      expectJsonError(exchange, 408, 'LARDER_ERR_REQUEST_TIMEOUT', /headers must arrive within 5000 ms/);
      expect(exchange.ms).toBeGreaterThanOrEqual(HTTP_TIMEOUTS.headersMs - 100);
      expect(exchange.ms).toBeLessThan(HTTP_TIMEOUTS.headersMs + slack);
    }
    expectJsonError(stalled, 408, 'LARDER_ERR_REQUEST_TIMEOUT', /whole request within 10000 ms/);
    expect(stalled.ms).toBeGreaterThanOrEqual(HTTP_TIMEOUTS.requestMs - 100);
    expect(stalled.ms).toBeLessThan(HTTP_TIMEOUTS.requestMs + slack);
  }, 30_000);
});

/**
 * The ceiling: a bare node:http server that reads each request's body and
 * answers fixed bytes, set by its parent over IPC ({ body, headers }): a
 * sidecar answer of the case being measured and the sidecar's own response
 * headers, so both servers write the same bytes. Started by sidecar.mjs,
 * pinned to the server's core; `node bench/bare-server.mjs <port>`.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
let body = Buffer.from('{}');
let headers = { 'content-type': 'application/json', 'content-length': body.length };

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (msg) => {
  if (msg && typeof msg.body === 'string') {
    body = Buffer.from(msg.body);
    headers = { ...msg.headers, 'content-length': body.length };
    process.send({ ok: true, bytes: body.length });
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(port, '127.0.0.1', () => process.send({ listening: port }));

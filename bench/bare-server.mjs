/**
 * The ceiling: a bare node:http server that reads each request's body and
 * answers a fixed JSON body, set by its parent over IPC ({ body }) to the
 * size of the sidecar's answer for the case being measured. Started by
 * sidecar.mjs with fork(); `node bench/bare-server.mjs <port>`.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
let body = Buffer.from('{}');

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (msg) => {
  if (msg && typeof msg.body === 'string') {
    body = Buffer.from(msg.body);
    process.send({ ok: true, bytes: body.length });
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(port, '127.0.0.1', () => process.send({ listening: port }));

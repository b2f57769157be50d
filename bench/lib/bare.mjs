/**
 * The bare node:http server (bench/bare-server.mjs) as the benches drive
 * it: a child started with an IPC channel, told over it which answer to
 * send, so that it writes the same bytes and headers as the sidecar.
 */

/** Response headers that belong to the connection, not to the answer: node:http writes its own. */
const CONNECTION_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/** A fetch Response's headers that the bare server should send too. */
export const answerHeaders = (headers) => Object.fromEntries([...headers].filter(([k]) => !CONNECTION_HEADERS.has(k)));

/**
 * For the bare server's `child` (spawned with an 'ipc' stdio slot):
 * `ready` resolves once it listens; `setAnswer(body, headers)` once it
 * took the answer. `output()` says what it printed, for errors.
 */
export function bareChannel(child, output) {
  const ready = new Promise((resolve, reject) => {
    child.once('message', (m) => (m?.listening ? resolve() : reject(new Error(`bare server: ${JSON.stringify(m)}`))));
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}: ${output()}`)));
  });
  const setAnswer = (body, headers) => new Promise((resolve) => {
    child.once('message', resolve);
    child.send({ body, headers });
  });
  return { ready, setAnswer };
}

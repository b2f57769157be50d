/**
 * Response bodies live in reused memory (BufferPool). A client that reads
 * slowly leaves part of its answer queued in the sidecar; memory must not be
 * reused until that answer is flushed, or a later answer would overwrite it.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Bundle } from '../../src/core/local-store.js';
import { T0, shopBundle, useShopSidecar } from './helpers.js';

const ENTITIES = 30_000; // an answer of several MB: more than the socket buffers hold
const s = useShopSidecar({ maxEntities: ENTITIES, maxBodyBytes: 4 * 1024 * 1024 }, T0);

const request = (firstUser: number) => ({
  features: ['user_stats:clicks', 'user_stats:ctr', 'user_stats:country', 'user_stats:last_seen', 'user_stats:embedding', 'user_stats:tags', 'user_stats:vip'],
  entities: { user_id: Array.from({ length: ENTITIES }, (_, i) => firstUser + (i % 3)) },
});

/** Sends `body` on a raw socket, reads nothing until `resume` resolves, then returns the response body. */
function slowPost(port: number, body: string, resume: Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('error', reject);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve(text.slice(text.indexOf('\r\n\r\n') + 4));
    });
    socket.pause();
    socket.write(`POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    void resume.then(() => socket.resume());
  });
}

describe('a slow reader', () => {
  it('gets its whole answer intact while other answers are written meanwhile', async () => {
    const inProcess = await Bundle.decode(await shopBundle(1));
    let resume!: () => void;
    const slow = slowPost(s.sidecar.port, JSON.stringify(request(1)), new Promise((r) => (resume = r)));
    await new Promise((r) => setTimeout(r, 300)); // the slow answer is written as far as the socket takes it
    for (let i = 0; i < 3; i++) {
      const other = await s.post(request(4)); // users 4..6: all NOT_FOUND, a different answer of similar size
      expect(other.status).toBe(200);
      await other.arrayBuffer();
    }
    resume();
    const answer = JSON.parse(await slow);
    expect(answer).toEqual(inProcess.getOnlineFeatures(request(1), { now: new Date(T0) }));
  });
});

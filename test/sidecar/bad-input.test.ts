/**
 * Bad requests get a 4xx with `{ error: { code, message } }` naming the
 * problem; nothing a client sends makes the sidecar answer 5xx or crash.
 * All over real sockets, including bodies larger than the limit with a
 * true, absent (chunked) or false Content-Length.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { expectError, useShopSidecar } from './helpers.js';

const MAX_BODY = 64 * 1024;
const s = useShopSidecar({ maxBodyBytes: MAX_BODY, maxEntities: 5 });
afterEach(async () => {
  // After every bad request the server is alive, and nothing was a bug.
  expect((await s.get('/health')).status).toBe(200);
  expect(s.log.lines.filter((l) => l.level === 'error')).toEqual([]);
});

const ok = { features: ['user_stats:clicks'], entities: { user_id: [1] } };

describe('request errors name the problem', () => {
  const cases: [string, unknown, number, string, RegExp][] = [
    ['malformed JSON', '{"features": [', 400, 'LARDER_ERR_BAD_JSON', /not valid JSON/],
    ['empty body', '', 400, 'LARDER_ERR_BAD_JSON', /empty/],
    ['an array instead of an object', '[1,2]', 400, 'LARDER_ERR_BAD_REQUEST', /must be a JSON object, got array/],
    ['a bare string', '"hello"', 400, 'LARDER_ERR_BAD_REQUEST', /must be a JSON object, got string/],
    ['null', 'null', 400, 'LARDER_ERR_BAD_REQUEST', /must be a JSON object, got null/],
    ['unknown view', { features: ['nope:clicks'], entities: { user_id: [1] } }, 404, 'LARDER_ERR_UNKNOWN_VIEW', /feature view "nope" does not exist/],
    ['offline view', { features: ['history:orders'], entities: { user_id: [1] } }, 404, 'LARDER_ERR_UNKNOWN_VIEW', /"history" is not served online/],
    ['unknown feature', { features: ['user_stats:nope'], entities: { user_id: [1] } }, 404, 'LARDER_ERR_UNKNOWN_FEATURE', /"user_stats" has no feature "nope"/],
    ['unknown feature service', { feature_service: 'nope', entities: { user_id: [1] } }, 404, 'LARDER_ERR_UNKNOWN_SERVICE', /feature service "nope" does not exist \(known: ranker\)/],
    ['bad feature reference', { features: ['clicks'], entities: { user_id: [1] } }, 400, 'LARDER_ERR_BAD_REQUEST', /"clicks" is not "view:feature"/],
    ['features and feature_service', { features: ['user_stats:clicks'], feature_service: 'ranker', entities: { user_id: [1] } }, 400, 'LARDER_ERR_BAD_REQUEST', /not both/],
    ['no features', { entities: { user_id: [1] } }, 400, 'LARDER_ERR_BAD_REQUEST', /"features" must be a non-empty array/],
    ['features not strings', { features: [1, 2], entities: { user_id: [1] } }, 400, 'LARDER_ERR_BAD_REQUEST', /"features" must be a non-empty array/],
    ['unknown field', { ...ok, extra: 1 }, 400, 'LARDER_ERR_BAD_REQUEST', /unknown request field "extra"/],
    ['full_feature_names not boolean', { ...ok, full_feature_names: 'yes' }, 400, 'LARDER_ERR_BAD_REQUEST', /"full_feature_names" must be a boolean/],
    ['missing join key', { features: ['user_product:affinity'], entities: { user_id: [1] } }, 400, 'LARDER_ERR_MISSING_JOIN_KEY', /"user_product" needs join key "product_id"/],
    ['no entities', { features: ['user_stats:clicks'], entities: {} }, 400, 'LARDER_ERR_MISSING_JOIN_KEY', /"entities" is empty/],
    ['entities not an object', { features: ['user_stats:clicks'], entities: [1] }, 400, 'LARDER_ERR_BAD_REQUEST', /"entities" must be an object/],
    ['entity column not an array', { features: ['user_stats:clicks'], entities: { user_id: 1 } }, 400, 'LARDER_ERR_BAD_REQUEST', /entities."user_id" must be an array/],
    ['extra join key', { features: ['user_stats:clicks'], entities: { user_id: [1], shop_id: [2] } }, 400, 'LARDER_ERR_EXTRA_JOIN_KEY', /join key "shop_id" is not used/],
    ['entity columns of different lengths', { features: ['user_product:affinity'], entities: { user_id: [1, 2], product_id: ['p1'] } }, 400, 'LARDER_ERR_ENTITY_LENGTHS', /"user_id" has 2 values, "product_id" has 1/],
    ['string for an int64 join key', { features: ['user_stats:clicks'], entities: { user_id: ['1'] } }, 400, 'LARDER_ERR_JOIN_KEY_TYPE', /join key "user_id" is int64, but value 0 is "1" \(string\)/],
    ['fraction for an int64 join key', { features: ['user_stats:clicks'], entities: { user_id: [1.5] } }, 400, 'LARDER_ERR_JOIN_KEY_TYPE', /join key "user_id" is int64, but value 0 is 1.5/],
    ['number for a string join key', { features: ['user_product:affinity'], entities: { user_id: [1], product_id: [7] } }, 400, 'LARDER_ERR_JOIN_KEY_TYPE', /join key "product_id" is string, but value 0 is 7/],
    ['too many entities', { features: ['user_stats:clicks'], entities: { user_id: [1, 2, 3, 4, 5, 6] } }, 413, 'LARDER_ERR_TOO_MANY_ENTITIES', /6 entities, more than the limit of 5/],
  ];
  for (const [name, body, status, code, message] of cases) {
    it(name, async () => {
      await expectError(await s.post(typeof body === 'string' ? body : JSON.stringify(body)), status, code, message);
    });
  }
});

describe('nasty bodies never cause a 5xx', () => {
  const nasty: [string, string | Uint8Array][] = [
    ['huge numbers', '{"features":["user_stats:clicks"],"entities":{"user_id":[1e400, 123456789012345678901234567890]}}'],
    ['__proto__ keys', '{"__proto__":{"features":["user_stats:clicks"]},"features":["user_stats:clicks"],"entities":{"__proto__":[1],"user_id":[1]}}'],
    ['__proto__ as the only join key', '{"features":["user_stats:clicks"],"entities":{"__proto__":[1]}}'],
    ['constructor and prototype keys', '{"features":["constructor:prototype"],"entities":{"constructor":[1]}}'],
    ['nested garbage as a join key value', JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [{ a: [[{ b: null }]] }] } })],
    ['deeply nested join key value', `{"features":["user_stats:clicks"],"entities":{"user_id":[${'['.repeat(20_000)}${']'.repeat(20_000)}]}}`],
    ['deeply nested body', '['.repeat(30_000) + ']'.repeat(30_000)],
    ['non-UTF-8 bytes', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ['NUL bytes', '{"features":["user_stats:clicks\u0000"],"entities":{"user_id":[1]}}'],
    ['a separator character in a string key', JSON.stringify({ features: ['user_product:affinity'], entities: { user_id: [1], product_id: ['a\u001fb'] } })],
    ['arrays of objects as features', '{"features":[{"view":"user_stats"}],"entities":{"user_id":[1]}}'],
    ['feature reference with many colons', '{"features":["a:b:c:d"],"entities":{"user_id":[1]}}'],
    ['a very long feature name', JSON.stringify({ features: [`user_stats:${'x'.repeat(50_000)}`], entities: { user_id: [1] } })],
    ['whitespace only', '   \n\t  '],
    ['a BOM then JSON', '\ufeff' + JSON.stringify(ok)],
  ];
  for (const [name, body] of nasty) {
    it(name, async () => {
      const res = await s.post(body as BodyInit);
      const text = await res.text();
      if (name === 'a BOM then JSON') {
        expect(res.status, text).toBe(200);
        return;
      }
      expect(res.status, text).toBeGreaterThanOrEqual(400);
      expect(res.status, text).toBeLessThan(500);
      const json = JSON.parse(text) as { error: { code: string; message: string } };
      expect(json.error.code).toMatch(/^LARDER_ERR_/);
      expect(json.error.message.length).toBeGreaterThan(10);
    });
  }

  it('non-UTF-8 bytes are named as such', async () => {
    await expectError(await s.post(new Uint8Array([0x7b, 0xff, 0x7d])), 400, 'LARDER_ERR_BAD_JSON', /not valid UTF-8/);
  });

  it('a deeply nested join key value is described, not echoed', async () => {
    const body = `{"features":["user_stats:clicks"],"entities":{"user_id":[${'['.repeat(30_000)}${']'.repeat(30_000)}]}}`;
    await expectError(await s.post(body), 400, 'LARDER_ERR_JOIN_KEY_TYPE', /value 0 is \[\.\.\.1 items\] \(array\)/);
  });
});

describe('content headers', () => {
  it('a JSON body is accepted without Content-Type and under curl -d\'s form label (as Feast does)', async () => {
    for (const type of [undefined, 'application/x-www-form-urlencoded', 'text/plain;charset=utf-8', 'application/json; charset=utf-8']) {
      const res = await fetch(`${s.url}/get-online-features`, { method: 'POST', body: JSON.stringify(ok), headers: type ? { 'content-type': type } : {} });
      expect(res.status, `content-type ${type}`).toBe(200);
    }
  });

  it('other content types are refused by name', async () => {
    const res = await fetch(`${s.url}/get-online-features`, { method: 'POST', body: JSON.stringify(ok), headers: { 'content-type': 'application/xml' } });
    await expectError(res, 400, 'LARDER_ERR_BAD_REQUEST', /content-type "application\/xml" is not supported/);
  });

  it('a compressed body is refused by name', async () => {
    const res = await fetch(`${s.url}/get-online-features`, { method: 'POST', body: JSON.stringify(ok), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    await expectError(res, 400, 'LARDER_ERR_BAD_REQUEST', /content-encoding "gzip" is not supported/);
  });
});

describe('routes', () => {
  it('unknown routes get a 404 JSON error listing the routes', async () => {
    await expectError(await s.get('/nope'), 404, 'LARDER_ERR_NOT_FOUND', /no route GET \/nope \(routes: POST \/get-online-features, GET \/health/);
  });
  it('a known route with the wrong method says which method it takes', async () => {
    await expectError(await s.get('/get-online-features'), 404, 'LARDER_ERR_NOT_FOUND', /\/get-online-features takes POST/);
  });
});

/** Sends a request with node:http so the body can stream in chunks; resolves with status and body. */
function streamRequest(chunks: Buffer[], headers: Record<string, string | number>, delayMs = 5): Promise<{ status: number; body: string; sentAll: boolean }> {
  const url = new URL(s.url);
  return new Promise((resolve, reject) => {
    let sentAll = false;
    const req = httpRequest({ host: url.hostname, port: url.port, path: '/get-online-features', method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sentAll }));
    });
    req.on('error', reject);
    let i = 0;
    const next = () => {
      if (req.destroyed) return;
      if (i < chunks.length) {
        req.write(chunks[i++]);
        setTimeout(next, delayMs);
      } else {
        sentAll = true;
        req.end();
      }
    };
    next();
  });
}

describe('body size limit', () => {
  it('a Content-Length over the limit is refused before reading', async () => {
    const big = JSON.stringify({ ...ok, features: Array(10_000).fill('user_stats:clicks') });
    expect(big.length).toBeGreaterThan(MAX_BODY);
    await expectError(await s.post(big), 413, 'LARDER_ERR_BODY_TOO_LARGE', new RegExp(`is ${Buffer.byteLength(big)} bytes \\(Content-Length\\), more than the limit of ${MAX_BODY} bytes`));
  });

  it('a chunked body (no Content-Length) is cut off once it passes the limit, while the client is still sending', async () => {
    const chunk = Buffer.alloc(16 * 1024, 0x20); // JSON whitespace
    const chunks = Array.from({ length: 64 }, () => chunk); // 1 MiB in total, sent slowly
    const r = await streamRequest(chunks, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, 10);
    expect(r.status).toBe(413);
    expect(r.sentAll).toBe(false);
    expect(JSON.parse(r.body).error.message).toMatch(/passed 65536 bytes while streaming/);
  });

  it('a chunked body under the limit is served', async () => {
    const text = JSON.stringify(ok);
    const r = await streamRequest([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))], { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    expect(r.status).toBe(200);
  });

  it('a Content-Length smaller than the body sent: only the declared bytes are read, and the rest is not a request', async () => {
    const body = JSON.stringify(ok) + ' '.repeat(200_000);
    const answer = await new Promise<string>((resolve, reject) => {
      const url = new URL(s.url);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${JSON.stringify(ok).length}\r\n\r\n`);
        socket.write(body);
      });
      let got = '';
      socket.on('data', (d) => (got += d.toString('latin1')));
      socket.on('end', () => resolve(got));
      socket.on('error', (e) => (got ? resolve(got) : reject(e)));
      setTimeout(() => socket.destroy(), 2000).unref();
    });
    // Node's HTTP parser reads only the declared bytes as the body, takes the
    // rest for a malformed next request and closes the connection with a 400.
    expect(answer).toMatch(/^HTTP\/1\.1 (200 OK|400 Bad Request)/);
    expect(answer).not.toMatch(/HTTP\/1\.1 5\d\d/);
  });

  it('integers written as -0 or 1e3 are integers', async () => {
    const res = await s.post('{"features":["user_stats:clicks"],"entities":{"user_id":[-0, 1e3]}}');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: { values: unknown[] }[] }).results[0]!.values).toEqual([0, 1000]);
  });

  it('a body exactly at the limit is read', async () => {
    const text = JSON.stringify(ok);
    const padded = text + ' '.repeat(MAX_BODY - text.length);
    expect(Buffer.byteLength(padded)).toBe(MAX_BODY);
    expect((await s.post(padded)).status).toBe(200);
  });
});

describe('clients that go away', () => {
  it('a client that disconnects mid-body hurts nothing', async () => {
    const url = new URL(s.url);
    await new Promise<void>((done) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write('POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"features":');
        setTimeout(() => {
          socket.destroy();
          done();
        }, 50);
      });
    });
    await new Promise((r) => setTimeout(r, 50));
    expect((await s.post(ok)).status).toBe(200);
  });
});


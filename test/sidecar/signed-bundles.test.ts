/**
 * Signed bundles as a user meets them: a real sidecar started with
 * --public-key on a folder, and files written into that folder. Every
 * rejection (unsigned; one flipped byte in the values, the manifest, the
 * signed statement or the signature; a truncated file; an expired
 * signature; an unknown key; an older version, also after a restart) is
 * logged with its reason, counted, and the bundle being served keeps
 * serving. Operator rollback: 403 without --admin-token, 401 with a wrong
 * one, and a rollback that survives a restart.
 */
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyPair } from '../../bundle-builder/commands/keygen.js';
import { decodeManifest } from '../../src/core/bundle/decode.js';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { signBundle } from '../../src/core/sign/signature.js';
import { T0, type TestSidecar, eventually, removeDir, shopBundle, startTestSidecar, tempDir, writeBundleFile } from './helpers.js';

const CLI = resolve(import.meta.dirname, '../../dist/src/cli.js');
const exec = promisify(execFile);
const TOKEN = 'an-admin-token-of-some-length';

interface Keys {
  keyId: string;
  privateText: string;
  publicKeyFile: string;
}

let keyA: Keys;
let keyB: Keys;
const dirs: string[] = [];
const running: TestSidecar[] = [];

async function newKeys(): Promise<Keys> {
  const dir = await tempDir();
  dirs.push(dir);
  const k = await writeKeyPair(dir);
  return { keyId: k.keyId, privateText: await readFile(k.privateKeyFile, 'utf8'), publicKeyFile: k.publicKeyFile };
}

beforeAll(async () => {
  keyA = await newKeys();
  keyB = await newKeys();
});

afterEach(async () => {
  for (const s of running.splice(0)) await s.close();
  for (const d of dirs.splice(2)) await removeDir(d);
});

interface SignedFile {
  bytes: Uint8Array;
  sig: string;
}

async function signedShop(version: number, keys: Keys = keyA, expiresAtMs?: number): Promise<SignedFile> {
  const bytes = await shopBundle(version);
  return { bytes, sig: await signBundle(bytes, await decodeManifest(bytes), keys.privateText, { expiresAtMs }) };
}

/** Writes the signature (if any) and then the bundle, as the builder does. */
async function put(dir: string, version: number, file: SignedFile | { bytes: Uint8Array; sig?: string }): Promise<string> {
  const name = bundleFileName('shop', version);
  if (file.sig !== undefined) await writeFile(join(dir, `${name}.sig`), file.sig);
  return writeBundleFile(dir, file.bytes, name);
}

async function sidecarOn(dir: string, extra: Record<string, unknown> = {}): Promise<TestSidecar> {
  const s = await startTestSidecar(dir, { publicKeys: [keyA.publicKeyFile], ...extra });
  running.push(s);
  return s;
}

async function folder(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

const request = { features: ['user_stats:clicks'], entities: { user_id: [1] } };

/** Asks for user 1's clicks (10 x version) and checks which version answered. */
async function expectServing(s: TestSidecar, version: number): Promise<void> {
  const res = await s.post(request);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-larder-bundle-version')).toBe(String(version));
  const body = (await res.json()) as { results: { values: unknown[] }[] };
  expect(body.results[1]!.values).toEqual([10 * version]);
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const copy = bytes.slice();
  copy[at]! ^= 0x01;
  return copy;
}

describe('a sidecar with --public-key', () => {
  it('serves a signed bundle, refuses every altered, unsigned, expired or foreign one, and keeps serving', async () => {
    const dir = await folder();
    await put(dir, 1, await signedShop(1));
    const s = await sidecarOn(dir);
    await expectServing(s, 1);

    const cases: [string, (version: number) => Promise<{ bytes: Uint8Array; sig?: string }>, string][] = [
      ['unsigned', async (v) => ({ bytes: await shopBundle(v) }), 'the bundle is not signed (no .sig file beside it)'],
      ['a flipped byte in the values', async (v) => {
        const f = await signedShop(v);
        return { bytes: flip(f.bytes, f.bytes.length - 1), sig: f.sig };
      }, "the bundle's bytes do not match the signed hash"],
      ['a flipped byte in the manifest', async (v) => {
        const f = await signedShop(v);
        return { bytes: flip(f.bytes, 60), sig: f.sig };
      }, "the bundle's bytes do not match the signed hash"],
      ['a truncated file', async (v) => {
        const f = await signedShop(v);
        return { bytes: f.bytes.subarray(0, f.bytes.length - 100), sig: f.sig };
      }, "the bundle's bytes do not match the signed hash"],
      ['a flipped byte in the signature', async (v) => {
        const f = await signedShop(v);
        const sig = JSON.parse(f.sig) as { signature: string };
        const raw = Buffer.from(sig.signature, 'base64');
        raw[10]! ^= 0x01;
        return { bytes: f.bytes, sig: JSON.stringify({ ...sig, signature: raw.toString('base64') }) };
      }, 'the signature does not verify with key'],
      ['an altered statement (a later expiry)', async (v) => {
        const f = await signedShop(v, keyA, T0);
        const sig = JSON.parse(f.sig) as { statement: string };
        return { bytes: f.bytes, sig: JSON.stringify({ ...sig, statement: sig.statement.replace(/"expiresAt":"[^"]*"/, '"expiresAt":null') }) };
      }, 'the signature does not verify with key'],
      ['an expired signature', (v) => signedShop(v, keyA, T0), `the bundle's signature expired at ${new Date(T0).toISOString()}`],
      ['a key the sidecar does not trust', (v) => signedShop(v, keyB), `the bundle is signed by key ${keyB.keyId}, which is not among the trusted keys (${keyA.keyId})`],
    ];
    let rejected = 0;
    for (const [what, make, reason] of cases) {
      const version = 2 + rejected;
      const file = await make(version);
      const path = await put(dir, version, file);
      await eventually(() => s.log.text().includes(`skipping bundle ${path}`), 5000, `${what} refused`);
      const line = s.log.lines.find((l) => l.message.startsWith(`skipping bundle ${path}`))!.message;
      expect(line, what).toContain(reason);
      expect(line, what).toContain('still serving v1');
      await expectServing(s, 1);
      rejected++;
      // Out of the way, so the next case is the newest file.
      await rm(path);
    }
    expect(s.sidecar.metrics.render(s.sidecar.holder, Date.now())).toContain(`larder_bundle_loads_total{result="rejected"} ${rejected}`);

    await put(dir, 10, await signedShop(10));
    await eventually(() => s.sidecar.holder.current?.version === 10, 5000, 'a good signed v10 swapped in');
    await expectServing(s, 10);
  });

  it('accepts bundles of every key given (rotation), comma-separated', async () => {
    const dir = await folder();
    await put(dir, 1, await signedShop(1, keyB));
    const s = await sidecarOn(dir, { publicKeys: [keyA.publicKeyFile, keyB.publicKeyFile] });
    await expectServing(s, 1);
    await put(dir, 2, await signedShop(2, keyA));
    await eventually(() => s.sidecar.holder.current?.version === 2, 5000, 'v2 signed by the other key');
  });

  it('refuses a validly signed older version after a restart: the high-water mark is on disk', async () => {
    const dir = await folder();
    for (const v of [1, 2, 3]) await put(dir, v, await signedShop(v));
    const first = await sidecarOn(dir);
    await expectServing(first, 3);
    await first.close();
    running.splice(running.indexOf(first), 1);
    expect(JSON.parse(await readFile(join(dir, '.larder-state.json'), 'utf8'))).toEqual({ format: 'larder-version-state', projects: { shop: { floor: 3, skipThrough: 3 } } });

    // An attacker (or a bad sync) removes v3: the older v2 is validly signed, and still refused.
    await rm(join(dir, 'shop-v3.larder'));
    const second = await sidecarOn(dir);
    expect(second.log.text()).toContain(`skipping bundle ${join(dir, 'shop-v2.larder')}: LARDER_ERR_BUNDLE_ROLLBACK: version 2 is lower than v3, the version this sidecar accepted last`);
    expect((await second.get('/ready')).status).toBe(503);
    expect((await second.post(request)).status).toBe(503);

    // A newer signed version is served.
    await put(dir, 4, await signedShop(4));
    await eventually(() => second.sidecar.holder.current?.version === 4, 5000, 'v4 served');
  });

  it('refuses to start with a private key, or a file that is no key, as --public-key', async () => {
    const dir = await folder();
    const keyDir = await folder();
    const k = await writeKeyPair(keyDir);
    await expect(startTestSidecar(dir, { publicKeys: [k.privateKeyFile] })).rejects.toMatchObject({ code: 'LARDER_ERR_KEY', message: expect.stringContaining('holds a private key') });
    await writeFile(join(keyDir, 'junk.jwk'), 'hello');
    await expect(startTestSidecar(dir, { publicKeys: [join(keyDir, 'junk.jwk')] })).rejects.toMatchObject({ code: 'LARDER_ERR_KEY', message: expect.stringContaining('is not JSON') });
  });
});

describe('rollback on purpose', () => {
  const post = (s: TestSidecar, body: unknown, token?: string) =>
    fetch(`${s.url}/admin/rollback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('403 without --admin-token, 401 with a wrong token', async () => {
    const dir = await folder();
    await put(dir, 1, await signedShop(1));
    const off = await sidecarOn(dir);
    const r403 = await post(off, { version: 1 }, TOKEN);
    expect(r403.status).toBe(403);
    expect(((await r403.json()) as { error: { code: string } }).error.code).toBe('LARDER_ERR_WRITES_OFF');
    const on = await sidecarOn(dir, { adminToken: TOKEN });
    expect((await post(on, { version: 1 })).status).toBe(401);
    const wrong = await post(on, { version: 1 }, `${TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('LARDER_ERR_UNAUTHORIZED');
  });

  it('rolls back to a chosen version, logged, kept across a restart until a newer build appears; bad asks are 4xx', async () => {
    const dir = await folder();
    for (const v of [2, 3, 4]) await put(dir, v, await signedShop(v));
    const s = await sidecarOn(dir, { adminToken: TOKEN });
    await expectServing(s, 4);

    const code = async (r: Response) => [r.status, ((await r.json()) as { error: { code: string } }).error.code];
    expect(await code(await post(s, 'nope', TOKEN))).toEqual([400, 'LARDER_ERR_BAD_JSON']);
    expect(await code(await post(s, { version: 'two' }, TOKEN))).toEqual([400, 'LARDER_ERR_BAD_REQUEST']);
    expect(await code(await post(s, { version: 4 }, TOKEN))).toEqual([400, 'LARDER_ERR_BAD_REQUEST']);
    expect(await code(await post(s, { version: 1 }, TOKEN))).toEqual([404, 'LARDER_ERR_UNKNOWN_VERSION']);
    await rm(join(dir, 'shop-v2.larder.sig'));
    const unsignedTarget = await post(s, { version: 2 }, TOKEN);
    expect(unsignedTarget.status).toBe(409);
    expect(((await unsignedTarget.json()) as { error: { message: string } }).error.message).toContain('not signed');
    await expectServing(s, 4);

    const ok = await post(s, { version: 3 }, TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ project: 'shop', from: 4, to: 3 });
    await expectServing(s, 3);
    expect(s.log.text()).toMatch(/warn ROLLBACK by .*: shop v4 -> v3/);
    // The poll does not swap v4 back in.
    await new Promise((r) => setTimeout(r, 200));
    await expectServing(s, 3);

    await s.close();
    running.splice(running.indexOf(s), 1);
    const again = await sidecarOn(dir, { adminToken: TOKEN });
    await expectServing(again, 3);

    await put(dir, 5, await signedShop(5));
    await eventually(() => again.sidecar.holder.current?.version === 5, 5000, 'a newer build after the rollback');
  });

  it('`larder rollback` asks the sidecar, and prints its error with its code', async () => {
    const dir = await folder();
    for (const v of [1, 2]) await put(dir, v, await signedShop(v));
    const s = await sidecarOn(dir, { adminToken: TOKEN });
    const env = { ...process.env, LARDER_ADMIN_TOKEN: TOKEN };
    const { stdout } = await exec(process.execPath, [CLI, 'rollback', '1', '--sidecar', s.url], { env });
    expect(stdout).toContain(`shop rolled back from v2 to v1 at ${s.url}`);
    await expectServing(s, 1);
    const wrong = await exec(process.execPath, [CLI, 'rollback', '1', '--sidecar', s.url], { env: { ...env, LARDER_ADMIN_TOKEN: 'wrong' } }).catch((e: { code: number; stderr: string }) => e);
    expect((wrong as { code: number }).code).toBe(1);
    expect((wrong as { stderr: string }).stderr).toContain('LARDER_ERR_UNAUTHORIZED');
  });
});

describe('following the folder', () => {
  it('swaps a new bundle in on its file event, long before the next poll', async () => {
    const dir = await folder();
    await put(dir, 1, await signedShop(1));
    const s = await sidecarOn(dir, { pollMs: 600_000 });
    await expectServing(s, 1);
    await put(dir, 2, await signedShop(2));
    await eventually(() => s.sidecar.holder.current?.version === 2, 3000, 'v2 by file event');
  });
});

/**
 * The device client in Node against a real origin, next to a real sidecar
 * serving the same folder: same values for the same keys; ETag (304);
 * signature, hash and high-water checks; a restart offline from file
 * storage; a bootstrap bundle.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyPair } from '../../bundle-builder/commands/keygen.js';
import { createDeviceStore, memoryStorage } from '../../src/client/index.js';
import { fileStorage } from '../../src/client/fs-storage.js';
import { decodeManifest } from '../../src/core/bundle/decode.js';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { signBundle } from '../../src/core/sign/signature.js';
import { type Origin, startOrigin } from '../../src/origin/origin.js';
import { type TestSidecar, eventually, removeDir, shopBundle, startTestSidecar, tempDir, writeBundleFile } from '../sidecar/helpers.js';

let privateText = '';
let publicText = '';
let publicKeyFile = '';
let dir = '';
let deviceDir = '';
let origin: Origin;
let sidecar: TestSidecar;

async function publish(into: string, version: number, tamper = false): Promise<{ bytes: Uint8Array; sig: string }> {
  const bytes = await shopBundle(version);
  const name = bundleFileName('shop', version);
  const sig = await signBundle(bytes, await decodeManifest(bytes), privateText);
  await writeFile(join(into, `${name}.sig`), sig);
  const written = tamper ? bytes.slice() : bytes;
  if (tamper) written[written.length - 1]! ^= 1;
  await writeBundleFile(into, written, name);
  return { bytes, sig };
}

beforeAll(async () => {
  dir = await tempDir();
  deviceDir = await tempDir();
  const k = await writeKeyPair(await tempDir());
  privateText = await readFile(k.privateKeyFile, 'utf8');
  publicText = await readFile(k.publicKeyFile, 'utf8');
  publicKeyFile = k.publicKeyFile;
  await publish(dir, 1);
  origin = await startOrigin({ bundles: dir, host: '127.0.0.1', port: 0 });
  sidecar = await startTestSidecar(dir, { publicKeys: [publicKeyFile] });
});

afterAll(async () => {
  await sidecar?.close();
  await origin?.close();
  await removeDir(dir);
  await removeDir(deviceDir);
});

const request = { features: ['user_stats:clicks', 'user_stats:ctr', 'user_stats:country', 'user_stats:embedding', 'user_stats:tags', 'user_stats:vip', 'user_stats:last_seen', 'user_product:affinity'], entities: { user_id: [1, 2, 3, 4], product_id: ['p1', 'p1', 'p1', 'p1'] } };

describe('the device client (Node)', () => {
  it('syncs from the origin and answers what the sidecar answers, with ETag, signature and high-water checks', async () => {
    const store = await createDeviceStore({ origin: origin.url, publicKeys: [publicText], storage: fileStorage(deviceDir), now: () => sidecar.clock.nowMs });
    expect(store.version).toBeUndefined();
    expect(() => store.get('user_stats', 1)).toThrow(/no bundle yet/);
    expect(await store.sync()).toBe('updated');
    expect(store.version).toBe(1);
    expect(store.lastTransfer?.via).toBe('full');
    expect(await store.sync()).toBe('unchanged');

    const served = await (await sidecar.post(request)).json();
    expect(store.getOnlineFeatures(request, { now: new Date(sidecar.clock.nowMs) })).toEqual(served);
    expect(store.get('user_stats', 1)).toMatchObject({ clicks: 10, country: 'NL' });

    await publish(dir, 2, true);
    await expect(store.sync()).rejects.toMatchObject({ code: 'LARDER_ERR_BUNDLE_CHECKSUM' });
    expect(store.version).toBe(1);
    expect(store.lastError?.message).toContain('signed hash');

    await publish(dir, 3);
    expect(await store.sync()).toBe('updated');
    expect(store.version).toBe(3);
    // v3 came as a delta from the v1 the device held, rebuilt exactly (its signature verified).
    expect(store.lastTransfer?.via).toBe('delta');
    expect(store.lastTransfer!.bytes).toBeLessThan((await readFile(join(dir, 'shop-v3.larder'))).length);
    await eventually(() => sidecar.sidecar.holder.current?.version === 3, 5000, 'the sidecar on v3 too');
    expect(store.getOnlineFeatures(request, { now: new Date(sidecar.clock.nowMs) })).toEqual(await (await sidecar.post(request)).json());

    // A restart without an origin: the stored bundle answers at once.
    const offline = await createDeviceStore({ publicKeys: [publicText], storage: fileStorage(deviceDir), now: () => sidecar.clock.nowMs });
    expect(offline.version).toBe(3);
    expect(offline.get('user_stats', 1)).toMatchObject({ clicks: 30 });

    // An origin offering an older, validly signed version is refused: the mark was stored.
    const oldDir = await tempDir();
    await publish(oldDir, 2);
    const oldOrigin = await startOrigin({ bundles: oldDir, host: '127.0.0.1', port: 0 });
    try {
      const restarted = await createDeviceStore({ origin: oldOrigin.url, publicKeys: [publicText], storage: fileStorage(deviceDir), now: () => sidecar.clock.nowMs });
      await expect(restarted.sync()).rejects.toMatchObject({ code: 'LARDER_ERR_BUNDLE_ROLLBACK' });
      expect(restarted.version).toBe(3);
    } finally {
      await oldOrigin.close();
      await removeDir(oldDir);
    }
  });

  it('starts offline from a bootstrap bundle, verified like a download', async () => {
    const bytes = await shopBundle(5);
    const signature = await signBundle(bytes, await decodeManifest(bytes), privateText);
    const store = await createDeviceStore({ publicKeys: [publicText], storage: memoryStorage(), bootstrap: { bundle: bytes, signature } });
    expect(store.version).toBe(5);
    await expect(createDeviceStore({ publicKeys: [publicText], bootstrap: { bundle: bytes } })).rejects.toMatchObject({ code: 'LARDER_ERR_BUNDLE_UNSIGNED' });
    // Without keys, unsigned bundles are accepted.
    expect((await createDeviceStore({ bootstrap: { bundle: bytes } })).version).toBe(5);
  });
});

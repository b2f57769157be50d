/**
 * Signed bundles: Ed25519 through WebCrypto, so the same code verifies in
 * Node, browsers and edge workers.
 *
 * The signature is detached: `<bundle>.sig` beside `<bundle>`, a JSON file
 *   { "format": "larder-signature", "statement": "<JSON text>", "signature": "<base64>" }
 * `signature` is Ed25519 over the UTF-8 bytes of `statement` exactly as
 * stored (no canonical JSON needed). The statement (SignedStatement) names
 * the project, version, creation and expiry times, the key id, the
 * manifest's content hash and the SHA-256 of the whole bundle file. The
 * bundle format itself is unchanged, so readers of unsigned bundles read
 * signed ones as before.
 *
 * A verifier checks, before decoding any byte of the bundle: the file is
 * JSON of that shape, the key id is one it trusts, the signature holds,
 * the statement has not expired, and the whole file hashes to the signed
 * hash (so a flipped or missing byte anywhere, manifest or values, fails
 * here). Every failure is a LarderError naming what failed.
 */
import { LarderError } from '../errors.js';
import { sha256Hex } from '../bundle/format.js';
import type { BundleManifest } from '../bundle/format.js';
import type { Sha256Hex } from '../bundle/decode.js';

export const SIGNATURE_FORMAT = 'larder-signature';
/** The detached signature's file name for a bundle file name or path. */
export const signaturePathFor = (bundlePath: string): string => `${bundlePath}.sig`;

export interface SignedStatement {
  format: 'larder-bundle-statement';
  project: string;
  version: number;
  /** The manifest's createdAt (ISO-8601). */
  createdAt: string;
  /** ISO-8601; null = never expires. */
  expiresAt: string | null;
  keyId: string;
  /** The manifest's contentSha256 (layout and values). */
  contentSha256: string;
  /** SHA-256 of the whole bundle file: header, manifest and content. */
  fileSha256: string;
}

/** An Ed25519 key as a JWK (RFC 8037) with larder's key id in `kid`. */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  /** Present only in a private key. */
  d?: string;
  kid: string;
}

export interface PublicKey {
  keyId: string;
  key: CryptoKey;
}

const ED25519 = { name: 'Ed25519' } as const;

const unsigned = (msg: string) => new LarderError('LARDER_ERR_BUNDLE_UNSIGNED', msg);
const badSignature = (msg: string) => new LarderError('LARDER_ERR_BUNDLE_SIGNATURE', msg);
const badKey = (msg: string) => new LarderError('LARDER_ERR_KEY', msg);

export function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

/** Standard or URL-safe base64 to bytes; undefined when it is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  const std = text.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(std)) return undefined;
  try {
    const s = atob(std.padEnd(Math.ceil(std.length / 4) * 4, '='));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The key id: the first 16 hex digits of the SHA-256 of the raw 32-byte public key. */
export async function keyIdOf(rawPublicKey: Uint8Array): Promise<string> {
  return (await sha256Hex(rawPublicKey)).slice(0, 16);
}

/** A new Ed25519 key pair, both halves as JWKs carrying the key id. */
export async function generateSigningKeyPair(): Promise<{ keyId: string; privateJwk: Ed25519Jwk; publicJwk: Ed25519Jwk }> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair;
  const priv = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey;
  const keyId = await keyIdOf(fromBase64(priv.x!)!);
  return {
    keyId,
    privateJwk: { kty: 'OKP', crv: 'Ed25519', x: priv.x!, d: priv.d!, kid: keyId },
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: priv.x!, kid: keyId },
  };
}

/** Reads a key file's JSON into a JWK, checking its shape; `what` names the file in errors. */
function parseJwk(text: string, what: string, wantPrivate: boolean): Ed25519Jwk {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw badKey(`${what} is not JSON: ${(e as Error).message}`);
  }
  const o = v as Partial<Ed25519Jwk> | null;
  if (typeof o !== 'object' || o === null || o.kty !== 'OKP' || o.crv !== 'Ed25519' || typeof o.x !== 'string' || typeof o.kid !== 'string') {
    throw badKey(`${what} is not a larder Ed25519 key (a JWK with kty "OKP", crv "Ed25519", x and kid; made by larder keygen)`);
  }
  if (wantPrivate && typeof o.d !== 'string') throw badKey(`${what} is a public key; signing needs the private key file (*.private.jwk)`);
  if (!wantPrivate && o.d !== undefined) throw badKey(`${what} holds a private key; give the sidecar the public key file (*.public.jwk) and keep the private one with the builder`);
  return o as Ed25519Jwk;
}

/** Imports a public key file's text; checks that its `kid` is the key's id. */
export async function importPublicKey(text: string, what = 'public key'): Promise<PublicKey> {
  const jwk = parseJwk(text, what, false);
  const raw = fromBase64(jwk.x);
  if (!raw || raw.length !== 32) throw badKey(`${what}: "x" is not a 32-byte base64url Ed25519 public key`);
  const keyId = await keyIdOf(raw);
  if (jwk.kid !== keyId) throw badKey(`${what}: its kid ${JSON.stringify(jwk.kid)} is not the id of its key (${keyId})`);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, ED25519, true, ['verify']);
  } catch (e) {
    throw badKey(`${what}: not a usable Ed25519 key (${(e as Error).message})`);
  }
  return { keyId, key };
}

/** Imports a private key file's text (throws LARDER_ERR_KEY naming `what`). */
export async function importPrivateKey(text: string, what: string): Promise<{ keyId: string; key: CryptoKey }> {
  const jwk = parseJwk(text, what, true);
  const raw = fromBase64(jwk.x);
  if (!raw || raw.length !== 32) throw badKey(`${what}: "x" is not a 32-byte base64url Ed25519 public key`);
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d! }, ED25519, false, ['sign']);
  } catch (e) {
    throw badKey(`${what}: not a usable Ed25519 private key (${(e as Error).message})`);
  }
  return { keyId: await keyIdOf(raw), key };
}

/**
 * Signs bundle bytes: returns the `.sig` file's text. `expiresAtMs`
 * undefined = never expires.
 */
export async function signBundle(bytes: Uint8Array, manifest: BundleManifest, privateKeyText: string, opts: { expiresAtMs?: number; keyFile?: string; sha256?: Sha256Hex } = {}): Promise<string> {
  const { keyId, key } = await importPrivateKey(privateKeyText, opts.keyFile ?? 'private key');
  const statement: SignedStatement = {
    format: 'larder-bundle-statement',
    project: manifest.project,
    version: manifest.version,
    createdAt: manifest.createdAt,
    expiresAt: opts.expiresAtMs === undefined ? null : new Date(opts.expiresAtMs).toISOString(),
    keyId,
    contentSha256: manifest.contentSha256,
    fileSha256: await (opts.sha256 ?? sha256Hex)(bytes),
  };
  const text = JSON.stringify(statement);
  const signature = new Uint8Array(await crypto.subtle.sign(ED25519, key, new TextEncoder().encode(text)));
  return JSON.stringify({ format: SIGNATURE_FORMAT, statement: text, signature: base64(signature) }, null, 2) + '\n';
}

export interface VerifyOptions {
  /** The time expiry is judged at, epoch ms. */
  nowMs: number;
  /** Hash of the whole file (Node passes one that does not copy). */
  sha256?: Sha256Hex;
}

/**
 * Verifies `bytes` against the `.sig` text (undefined: there is none)
 * with the trusted keys, without decoding the bundle. Returns the signed
 * statement. Throws LARDER_ERR_BUNDLE_UNSIGNED, _SIGNATURE, _KEY_UNKNOWN,
 * _EXPIRED or _CHECKSUM.
 */
export async function verifyBundleSignature(bytes: Uint8Array, signatureText: string | undefined, keys: readonly PublicKey[], opts: VerifyOptions): Promise<SignedStatement> {
  if (signatureText === undefined) throw unsigned('the bundle is not signed (no .sig file beside it) and this reader requires signed bundles (--public-key)');
  let file: unknown;
  try {
    file = JSON.parse(signatureText);
  } catch {
    throw badSignature('the signature file is not JSON');
  }
  const f = file as { format?: unknown; statement?: unknown; signature?: unknown } | null;
  if (typeof f !== 'object' || f === null || f.format !== SIGNATURE_FORMAT || typeof f.statement !== 'string' || typeof f.signature !== 'string') {
    throw badSignature(`the signature file is not a ${SIGNATURE_FORMAT} file (format, statement, signature)`);
  }
  const statement = parseStatement(f.statement);
  const key = keys.find((k) => k.keyId === statement.keyId);
  if (!key) {
    throw new LarderError('LARDER_ERR_BUNDLE_KEY_UNKNOWN', `the bundle is signed by key ${statement.keyId}, which is not among the trusted keys (${keys.map((k) => k.keyId).join(', ')}); add its public key with --public-key`);
  }
  const sig = fromBase64(f.signature);
  if (!sig || sig.length !== 64) throw badSignature('the signature is not 64 base64 bytes');
  const ok = await crypto.subtle.verify(ED25519, key.key, sig as Uint8Array<ArrayBuffer>, new TextEncoder().encode(f.statement));
  if (!ok) throw badSignature(`the signature does not verify with key ${key.keyId}: the signature or its statement was altered`);
  if (statement.expiresAt !== null && Date.parse(statement.expiresAt) <= opts.nowMs) {
    throw new LarderError('LARDER_ERR_BUNDLE_EXPIRED', `the bundle's signature expired at ${statement.expiresAt}`);
  }
  const fileSha256 = await (opts.sha256 ?? sha256Hex)(bytes);
  if (fileSha256 !== statement.fileSha256) {
    throw new LarderError('LARDER_ERR_BUNDLE_CHECKSUM', `the bundle's bytes do not match the signed hash (${statement.fileSha256.slice(0, 12)}..., got ${fileSha256.slice(0, 12)}...): damaged, truncated or altered`);
  }
  return statement;
}

/** After decoding: the manifest must be the one the statement names. */
export function checkStatementMatches(statement: SignedStatement, manifest: BundleManifest): void {
  if (manifest.project !== statement.project || manifest.version !== statement.version || manifest.contentSha256 !== statement.contentSha256) {
    throw badSignature(`the signed statement names ${statement.project} v${statement.version}, the manifest ${manifest.project} v${manifest.version}`);
  }
}

function parseStatement(text: string): SignedStatement {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badSignature('the signed statement is not JSON');
  }
  const s = v as Partial<SignedStatement> | null;
  const isHex = (x: unknown) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x);
  if (
    typeof s !== 'object' || s === null || s.format !== 'larder-bundle-statement' || typeof s.project !== 'string' ||
    typeof s.version !== 'number' || !Number.isSafeInteger(s.version) || typeof s.createdAt !== 'string' ||
    !(s.expiresAt === null || (typeof s.expiresAt === 'string' && !Number.isNaN(Date.parse(s.expiresAt)))) ||
    typeof s.keyId !== 'string' || !isHex(s.contentSha256) || !isHex(s.fileSha256)
  ) {
    throw badSignature('the signed statement is not of the expected shape');
  }
  return s as SignedStatement;
}

/** `30d`, `12h`, `90m`, `3600s` as milliseconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+)\s*(s|m|h|d)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd'];
  const ms = Number(m[1]) * unit;
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/**
 * `larder keygen --out <dir>`: writes a new Ed25519 signing key pair,
 *   <dir>/larder-<keyid>.private.jwk   (mode 0600: the builder signs with it)
 *   <dir>/larder-<keyid>.public.jwk    (give it to sidecars and devices)
 * The key id is the start of the SHA-256 of the public key; it is in both
 * file names and in every signature, so a reader holding several public
 * keys (rotation) knows which one to check. Existing files are never
 * overwritten.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CommandSpec, type ParsedCommand, helpText, nonEmpty, parseCommand, switchValue } from '../../src/option-table.js';
import { LarderError } from '../../src/core/errors.js';
import { generateSigningKeyPair } from '../../src/core/sign/signature.js';

export interface KeygenArgs {
  outDir: string;
  json: boolean;
}

export const KEYGEN_COMMAND: CommandSpec<KeygenArgs> = {
  name: 'keygen',
  about: 'Writes a new Ed25519 key pair for signing bundles into --out: larder-<keyid>.private.jwk (mode 0600; for larder build --sign-key) and larder-<keyid>.public.jwk (for larder serve --public-key).',
  positionals: [],
  options: [
    {
      key: 'outDir', flag: '--out', env: 'LARDER_KEY_OUT', valueName: '<dir>', defaultText: undefined,
      description: 'Folder for the two key files (created if missing).',
      parse: nonEmpty('a folder path'),
    },
    { key: 'json', flag: '--json', env: 'LARDER_JSON', defaultText: 'false', description: 'Print the key id and paths as JSON.', parse: switchValue },
  ],
};

export function parseKeygenArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand<KeygenArgs> {
  return parseCommand(KEYGEN_COMMAND, argv, env);
}

/** Writes the pair; returns the key id and both paths. */
export async function writeKeyPair(outDir: string): Promise<{ keyId: string; privateKeyFile: string; publicKeyFile: string }> {
  const { keyId, privateJwk, publicJwk } = await generateSigningKeyPair();
  const privateKeyFile = join(outDir, `larder-${keyId}.private.jwk`);
  const publicKeyFile = join(outDir, `larder-${keyId}.public.jwk`);
  try {
    await mkdir(outDir, { recursive: true });
    // 'wx': never replace a key someone may still sign or verify with.
    await writeFile(privateKeyFile, JSON.stringify(privateJwk, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await writeFile(publicKeyFile, JSON.stringify(publicJwk, null, 2) + '\n', { mode: 0o644, flag: 'wx' });
  } catch (e) {
    throw new LarderError('LARDER_ERR_KEY', `cannot write the key pair into ${outDir}: ${(e as Error).message}`, { cause: e });
  }
  return { keyId, privateKeyFile, publicKeyFile };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseKeygenArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText(KEYGEN_COMMAND));
    return 0;
  }
  const written = await writeKeyPair(parsed.options.outDir);
  if (parsed.options.json) console.log(JSON.stringify(written, null, 2));
  else console.log(`key id:      ${written.keyId}\nprivate key: ${written.privateKeyFile} (keep it secret: larder build --sign-key)\npublic key:  ${written.publicKeyFile} (larder serve --public-key)`);
  return 0;
}

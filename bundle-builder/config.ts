/**
 * Finds and loads a feature repo's config: larder.config.ts, .mjs, .js or
 * .json, in that order of preference. TypeScript and JavaScript configs are
 * loaded with jiti, with `larder-features` (the npm package's name) aliased
 * to this package, so that `import { defineRepo } from 'larder-features'`
 * works in a repo anywhere on disk without installing the package there.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import { LarderError } from '../src/core/errors.js';
import type { RepoDef } from '../src/core/repo/types.js';
import { validateRepo } from '../src/core/repo/validate.js';

export const CONFIG_NAMES = ['larder.config.ts', 'larder.config.mjs', 'larder.config.js', 'larder.config.json'] as const;

export interface LoadedRepo {
  repo: RepoDef;
  /** The config file, as messages name it (the repo path as given + file name). */
  file: string;
  /** Absolute repo folder: source paths are relative to it. */
  dir: string;
}

/** Walks up from this module to the folder holding larder's package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'core'))) return dir;
    const up = dirname(dir);
    // Only a broken installation gets here.
    if (up === dir) throw new LarderError('LARDER_ERR_INTERNAL', `cannot find the larder package root from ${import.meta.url}`);
    dir = up;
  }
}

/**
 * Aliases for `larder-features` and `larder-features/core`: the compiled
 * package entry when it exists (the installed CLI), else the TypeScript
 * source (tests run from source; jiti compiles it).
 */
function larderAliases(): Record<string, string> {
  const root = packageRoot();
  const built = join(root, 'dist', 'src', 'index.js');
  if (existsSync(built)) {
    return { 'larder-features/core': join(root, 'dist', 'src', 'core', 'index.js'), 'larder-features': built };
  }
  return { 'larder-features/core': join(root, 'src', 'core', 'index.ts'), 'larder-features': join(root, 'src', 'index.ts') };
}

async function findConfig(repoDir: string): Promise<string> {
  let isDir = false;
  try {
    isDir = (await stat(repoDir)).isDirectory();
  } catch {
    throw new LarderError('LARDER_ERR_CONFIG_NOT_FOUND', `feature repo folder not found: ${repoDir}`);
  }
  if (!isDir) throw new LarderError('LARDER_ERR_CONFIG_NOT_FOUND', `feature repo must be a folder, got a file: ${repoDir}`);
  for (const name of CONFIG_NAMES) {
    const file = join(repoDir, name);
    if (existsSync(file)) return file;
  }
  throw new LarderError(
    'LARDER_ERR_CONFIG_NOT_FOUND',
    `no feature repo config in ${repoDir} (looked for ${CONFIG_NAMES.join(', ')})`,
  );
}

async function loadJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new LarderError('LARDER_ERR_CONFIG', `${file}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new LarderError('LARDER_ERR_CONFIG', `${file}: invalid JSON: ${(e as Error).message}`, { cause: e });
  }
}

async function loadModule(file: string): Promise<unknown> {
  // moduleCache off: a long-lived process (tests, watch tools) must see a
  // config edited since the last load.
  const jiti = createJiti(import.meta.url, { alias: larderAliases(), moduleCache: false, interopDefault: false });
  let mod: Record<string, unknown>;
  try {
    mod = (await jiti.import(resolve(file))) as Record<string, unknown>;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new LarderError('LARDER_ERR_CONFIG', `${file}: failed to load: ${msg.split('\n')[0]}`, { cause: e });
  }
  if (mod.default !== undefined) return mod.default;
  if (mod.repo !== undefined) return mod.repo;
  throw new LarderError(
    'LARDER_ERR_CONFIG',
    `${file}: exports no repo: use \`export default defineRepo({...})\` or \`export const repo = defineRepo({...})\``,
  );
}

/** Loads and validates the repo in `repoDir`. Throws LARDER_ERR_CONFIG(_NOT_FOUND) naming the file. */
export async function loadRepo(repoDir: string): Promise<LoadedRepo> {
  const file = await findConfig(repoDir);
  const raw = file.endsWith('.json') ? await loadJson(file) : await loadModule(file);
  return { repo: validateRepo(raw, file), file, dir: resolve(repoDir) };
}

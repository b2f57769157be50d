/** Bundles for the benchmarks, built by the real builder (`larder build`, or bundle-builder's buildBundle). */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli.js');
const BUILD_MODULE = join(ROOT, 'dist/bundle-builder/build.js');

/** bundle-builder's programmatic API, or undefined when it is not written yet. */
export async function builderApi() {
  if (!existsSync(BUILD_MODULE)) return undefined;
  const mod = await import(BUILD_MODULE);
  return typeof mod.buildBundle === 'function' ? mod : undefined;
}

/** Runs `larder <args>`; resolves with exit code, stdout and stderr. */
export function larder(args, { echo = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; if (echo) process.stderr.write(d); });
    child.stderr.on('data', (d) => { stderr += d; if (echo) process.stderr.write(d); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The newest bundle file in `dir`, or undefined. */
export async function newestBundle(dir) {
  if (!existsSync(dir)) return undefined;
  const names = (await readdir(dir)).filter((n) => /-v\d+\.larder$/.test(n));
  names.sort((a, b) => Number(/-v(\d+)\.larder$/.exec(b)[1]) - Number(/-v(\d+)\.larder$/.exec(a)[1]));
  return names[0] ? join(dir, names[0]) : undefined;
}

/** A hash of the compiled code that writes bundles (core bundle format and the builder). */
async function writerCodeHash() {
  const h = createHash('sha256');
  for (const dir of ['dist/src/core', 'dist/bundle-builder']) {
    const files = (await readdir(join(ROOT, dir), { recursive: true })).filter((f) => f.endsWith('.js')).sort();
    for (const f of files) h.update(f).update(await readFile(join(ROOT, dir, f)));
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * A bundle of `repo` in `outDir`, reused when one was built before by the
 * same method from the same writer code. Returns { path, method, buildMs }.
 */
export async function ensureBundle(repo, outDir, { asOf, log }) {
  const marker = join(outDir, 'built-by.json');
  if ((await builderApi()) === undefined) throw new Error(`${BUILD_MODULE} is missing: run npm run build first`);
  const method = 'larder build (bundle-builder)';
  const code = await writerCodeHash();
  if (existsSync(marker)) {
    const m = JSON.parse(await readFile(marker, 'utf8'));
    const path = await newestBundle(outDir);
    if (path && m.method === method && m.code === code) {
      log(`reusing bundle ${path} (${m.method}; writer code unchanged)`);
      return { path, method: m.method, buildMs: m.buildMs, reused: true };
    }
  }
  await rm(outDir, { recursive: true, force: true });
  const t0 = performance.now();
  log(`building with larder build ${repo} ...`);
  const args = ['build', repo, '--out', outDir, ...(asOf ? ['--as-of', asOf.toISOString()] : [])];
  const r = await larder(args, { echo: true });
  if (r.code !== 0) throw new Error(`larder ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  const buildMs = performance.now() - t0;
  const path = await newestBundle(outDir);
  if (!path) throw new Error(`no bundle appeared in ${outDir}`);
  await writeFile(marker, JSON.stringify({ method, buildMs, code }, null, 2));
  return { path, method, buildMs, reused: false };
}

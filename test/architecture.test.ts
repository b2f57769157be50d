/**
 * Keeps the layers honest (ARCHITECTURE.md): src/core runs in any runtime
 * (no node: imports), has no import cycle (type imports count: a cycle of
 * types is still two modules that cannot be understood apart), and only
 * the CLI layer reaches into bundle-builder/, so the sidecar never loads
 * DuckDB.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports, type-only ones included. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  const pattern = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(pattern)) specifiers.push((m[1] ?? m[2])!);
  return specifiers;
}

/** A relative specifier as the .ts file it names (NodeNext imports say .js). */
function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return resolve(dirname(from), specifier).replace(/\.js$/, '.ts');
}

const rel = (p: string) => relative(ROOT, p);

/** The first import cycle found among `files` (as a path of files), or undefined. */
function findCycle(files: string[]): string[] | undefined {
  const inSet = new Set(files);
  const edges = new Map(files.map((f) => [f, importsOf(f).map((s) => resolveLocal(f, s)).filter((t): t is string => t !== undefined && inSet.has(t))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | undefined => {
    if (state.get(f) === 'done') return undefined;
    if (state.get(f) === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const t of edges.get(f)!) {
      const cycle = visit(t);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(f, 'done');
    return undefined;
  };
  for (const f of files) {
    const cycle = visit(f);
    if (cycle) return cycle.map(rel);
  }
  return undefined;
}

describe('architecture', () => {
  const core = sourceFiles(join(ROOT, 'src/core'));

  it('the checks see the code (a sanity check on the import scanner)', () => {
    expect(core.length).toBeGreaterThan(20);
    expect(importsOf(join(ROOT, 'src/core/local-store.ts'))).toContain('./resolve/resolver.js');
    expect(importsOf(join(ROOT, 'src/cli.ts'))).toContain('../bundle-builder/commands/build.js');
    // A cycle through a type-only import is found.
    const dir = mkdtempSync(join(tmpdir(), 'larder-arch-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport type A = B;\n");
      writeFileSync(join(dir, 'b.ts'), "export { c } from './c.js';\nexport type B = number;\n");
      writeFileSync(join(dir, 'c.ts'), "import type { A } from './a.js';\nexport const c: A = 1;\n");
      const files = ['a.ts', 'b.ts', 'c.ts'].map((n) => join(dir, n));
      expect(findCycle(files)?.map((f) => f.split('/').pop())).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
      expect(findCycle(files.slice(1))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('src/core imports nothing from node: (it runs in browsers and workers)', () => {
    const offenders = core.flatMap((f) => importsOf(f).filter((s) => s.startsWith('node:')).map((s) => `${rel(f)} imports ${s}`));
    expect(offenders).toEqual([]);
  });

  it('src/core has no import cycle, type imports counted', () => {
    expect(findCycle(core)).toBeUndefined();
  });

  it('src/core/bundle is the file format only: it imports nothing of Feast, the resolver or the local store', () => {
    const bundleFiles = core.filter((f) => rel(f).startsWith('src/core/bundle/'));
    const offenders = bundleFiles.flatMap((f) =>
      importsOf(f)
        .map((s) => resolveLocal(f, s))
        .filter((t): t is string => t !== undefined && /src\/core\/(feast|resolve)\/|src\/core\/local-store\.ts$/.test(t))
        .map((t) => `${rel(f)} imports ${rel(t)}`),
    );
    expect(offenders).toEqual([]);
  });

  it('src/core/resolve knows nothing of Feast requests', () => {
    const offenders = core
      .filter((f) => rel(f).startsWith('src/core/resolve/'))
      .flatMap((f) => importsOf(f).map((s) => resolveLocal(f, s)).filter((t): t is string => t !== undefined && t.includes('/src/core/feast/')).map((t) => `${rel(f)} imports ${rel(t)}`));
    expect(offenders).toEqual([]);
  });

  it('the sidecar and the core never import the CLI layer (imports point down)', () => {
    const offenders = sourceFiles(join(ROOT, 'src'))
      .filter((f) => rel(f).startsWith('src/core/') || rel(f).startsWith('src/sidecar/'))
      .flatMap((f) => importsOf(f).map((s) => resolveLocal(f, s)).filter((t): t is string => t !== undefined && (t.endsWith('/src/cli.ts') || t.includes('/src/cli/'))).map((t) => `${rel(f)} imports ${rel(t)}`));
    expect(offenders).toEqual([]);
  });

  it('bundle-builder/ is reached only from the CLI layer (src/cli.ts, src/cli/)', () => {
    const src = sourceFiles(join(ROOT, 'src'));
    const offenders = src
      .filter((f) => rel(f) !== 'src/cli.ts' && !rel(f).startsWith('src/cli/'))
      .flatMap((f) => importsOf(f).filter((s) => s.includes('bundle-builder')).map((s) => `${rel(f)} imports ${s}`));
    expect(offenders).toEqual([]);
  });
});

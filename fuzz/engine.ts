/**
 * The bundle fuzzer's cases and their judging. Case n of a run is
 * generated from (run seed, n) alone, so any case replays by its number.
 * A case's bytes are opened as the sidecar opens them (openBundle, the Node
 * entry); an accepted bundle is then read as users read it: `get` of every
 * key it holds (and some it does not), `getOnlineFeatures` of every key
 * with every feature of its view, the sidecar's JSON writer over the same
 * answer, and each feature service.
 *
 * Outcomes: accepted; rejected with a LarderError (by code); any other
 * error (a defect: must be 0); slower than HANG_MS (must be 0); and
 * accepted bundles where some lookup throws (must be 0).
 */
import { openBundle } from '../src/bundle-file.js';
import { type DecodedBundle, decodeBundle } from '../src/core/bundle/decode.js';
import { decodeUtf8 } from '../src/core/bundle/utf8.js';
import { HEADER_BYTES } from '../src/core/bundle/format.js';
import { LarderError } from '../src/core/errors.js';
import { AnswerColumns } from '../src/core/feast/answer.js';
import { resolveRequest } from '../src/core/feast/online.js';
import { feastResponseJson } from '../src/core/feast/response-json.js';
import { KEY_SEPARATOR } from '../src/core/keys.js';
import type { Bundle } from '../src/core/local-store.js';
import { Resolver } from '../src/core/resolve/resolver.js';
import { BundleTier } from '../src/core/resolve/tiers/bundle.js';
import type { ViewSpec } from '../src/core/resolve/tier.js';
import { splitBundle } from './forge.js';
import { Rng, type SeedInfo, type Strategy, checksummedCase, rawCase, stringsOf, structuralCase } from './mutate.js';
import type { Seed } from './seeds.js';

/** A case slower than this is a hang. */
export const HANG_MS = 1000;
/** Examples of each kind of defect kept for the report. */
const EXAMPLES = 10;

export interface Defect {
  caseNumber: number;
  strategy: Strategy;
  seed: string;
  message: string;
}

export interface Tally {
  cases: number;
  accepted: number;
  /** LarderError code -> count. */
  rejected: Record<string, number>;
  /** Per strategy: [accepted, rejected]. */
  byStrategy: Record<Strategy, { accepted: number; rejected: number }>;
  otherErrors: number;
  hangs: number;
  acceptedThenThrew: number;
  /** Keys looked up in accepted bundles (get), and keys answered by getOnlineFeatures. */
  keysLookedUp: number;
  keysAnswered: number;
  slowestMs: number;
  examples: { otherErrors: Defect[]; hangs: Defect[]; acceptedThenThrew: Defect[] };
}

export function emptyTally(): Tally {
  return {
    cases: 0, accepted: 0, rejected: {},
    byStrategy: { raw: { accepted: 0, rejected: 0 }, checksummed: { accepted: 0, rejected: 0 }, structural: { accepted: 0, rejected: 0 } },
    otherErrors: 0, hangs: 0, acceptedThenThrew: 0, keysLookedUp: 0, keysAnswered: 0, slowestMs: 0,
    examples: { otherErrors: [], hangs: [], acceptedThenThrew: [] },
  };
}

export function mergeTally(into: Tally, t: Tally): void {
  into.cases += t.cases;
  into.accepted += t.accepted;
  for (const [code, n] of Object.entries(t.rejected)) into.rejected[code] = (into.rejected[code] ?? 0) + n;
  for (const s of Object.keys(t.byStrategy) as Strategy[]) {
    into.byStrategy[s].accepted += t.byStrategy[s].accepted;
    into.byStrategy[s].rejected += t.byStrategy[s].rejected;
  }
  into.otherErrors += t.otherErrors;
  into.hangs += t.hangs;
  into.acceptedThenThrew += t.acceptedThenThrew;
  into.keysLookedUp += t.keysLookedUp;
  into.keysAnswered += t.keysAnswered;
  into.slowestMs = Math.max(into.slowestMs, t.slowestMs);
  for (const k of ['otherErrors', 'hangs', 'acceptedThenThrew'] as const) into.examples[k].push(...t.examples[k].slice(0, EXAMPLES - into.examples[k].length));
}

/** A seed's parts and byte ranges, worked out once. */
export async function prepareSeeds(seeds: readonly Seed[]): Promise<(SeedInfo & { name: string })[]> {
  return Promise.all(seeds.map(async (s) => {
    const parts = await splitBundle(s.bytes);
    const manifestEnd = HEADER_BYTES + new DataView(s.bytes.buffer, s.bytes.byteOffset + 12, 4).getUint32(0, true);
    return { name: s.name, bytes: s.bytes, manifestEnd, contentHex: parts.manifest.contentSha256 as string, parts, strings: stringsOf(parts.manifest, parts.layout) };
  }));
}

/** Case `n` of run `runSeed`: which seed, which strategy, which bytes. */
export async function generateCase(seeds: readonly (SeedInfo & { name: string })[], runSeed: number, n: number): Promise<{ strategy: Strategy; seed: string; bytes: Uint8Array }> {
  const rng = new Rng(runSeed, n);
  const seed = rng.pick(seeds);
  const r = rng.next();
  const strategy: Strategy = r < 0.3 ? 'raw' : r < 0.6 ? 'checksummed' : 'structural';
  if (strategy === 'raw') return { strategy, seed: seed.name, bytes: rawCase(rng, seed.bytes) };
  if (strategy === 'checksummed') return { strategy, seed: seed.name, bytes: await checksummedCase(rng, seed) };
  // msgpack cannot pack every value a mutation puts in (a bigint past 64 bits, ...): try again.
  for (let attempt = 0; ; attempt++) {
    try {
      return { strategy, seed: seed.name, bytes: await structuralCase(rng, seed) };
    } catch (e) {
      if (attempt === 20) throw new Error(`case ${n}: no packable structural mutation in 20 tries: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** The keys a view's records hold, read from the file as the format lays them out. */
function keysOf(decoded: DecodedBundle, viewName: string): string[] {
  const v = decoded.layout.views.find((x) => x.name === viewName);
  if (!v) return [];
  const u32 = new Uint32Array(decoded.data.buffer, decoded.data.byteOffset + v.records.offset, v.records.length / 4);
  const heap = decoded.data.subarray(v.heap.offset, v.heap.offset + v.heap.length);
  const keys: string[] = [];
  for (let r = 0; r < v.rows; r++) {
    const start = u32[(r * v.stride) / 4 + 2]!;
    keys.push(decodeUtf8(heap, start, start + u32[(r * v.stride) / 4 + 3]!));
  }
  return keys;
}

/** A key string as Feast entity values (one per join key), or undefined when a request cannot name it. */
function entityValues(view: ViewSpec, key: string): (string | number)[] | undefined {
  const parts = view.joinKeys.length === 1 ? [key] : key.split(KEY_SEPARATOR);
  if (parts.length !== view.joinKeys.length) return undefined;
  const out: (string | number)[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (view.joinKeys[i]!.dtype === 'string') {
      if (p.includes(KEY_SEPARATOR)) return undefined;
      out.push(p);
    }
    else if (/^-?\d+$/.test(p) && Number.isSafeInteger(Number(p)) && String(Number(p)) === p) out.push(Number(p));
    else return undefined;
  }
  return out;
}

const ABSENT_KEYS = ['', 'no such key', '0', '-1', '1\u001fp1', 'é'];
const BATCH = 256;

/** Reads every key of an accepted bundle every way a user can; throws what a lookup threw, as a message. */
function readEverything(bundle: Bundle, decoded: DecodedBundle, nowMs: number, tally: Tally): void {
  const resolver = new Resolver([new BundleTier(bundle.data)]);
  for (const name of bundle.data.viewNames()) {
    const keys = [...keysOf(decoded, name), ...ABSENT_KEYS];
    for (const key of keys) {
      bundle.get(name, key);
      tally.keysLookedUp++;
    }
    const spec = bundle.catalog.views.get(name);
    if (!spec || spec.features.length === 0) continue;
    const features = spec.features.map((f) => `${name}:${f.name}`);
    const askable = keys.map((k) => entityValues(spec, k)).filter((v) => v !== undefined);
    for (let from = 0; from < askable.length; from += BATCH) {
      const batch = askable.slice(from, from + BATCH);
      const entities = Object.fromEntries(spec.joinKeys.map((jk, i) => [jk.name, batch.map((v) => v[i]!)]));
      const body = { features, entities };
      bundle.getOnlineFeatures(body, { now: new Date(nowMs) });
      bundle.getOnlineFeatures({ ...body, full_feature_names: true }, { now: new Date(nowMs), serveStale: true });
      // The sidecar's way: the same answer written as JSON bytes, which must parse.
      const resolved = resolveRequest(bundle.catalog, resolver, body);
      if (resolved instanceof Promise) throw new Error('the bundle tier answered asynchronously');
      JSON.parse(new TextDecoder().decode(feastResponseJson(new AnswerColumns(resolved.plan, resolved.results, nowMs, { serveStale: false }))));
      tally.keysAnswered += batch.length;
    }
  }
  // Feature services: a request may be refused (a LarderError, 4xx), but nothing else.
  for (const service of bundle.catalog.services.keys()) {
    const entities: Record<string, unknown[]> = {};
    for (const view of bundle.catalog.views.values()) for (const jk of view.joinKeys) entities[jk.name] = jk.dtype === 'int64' ? [1, 2] : ['a', 'b'];
    try {
      bundle.getOnlineFeatures({ feature_service: service, entities }, { now: new Date(nowMs) });
    } catch (e) {
      if (!(e instanceof LarderError)) throw e;
    }
  }
}

const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : String(e));

/** Opens one case's bytes and reads what opens; the outcome goes into `tally`. */
export async function judge(bytes: Uint8Array, where: Omit<Defect, 'message'>, tally: Tally): Promise<void> {
  const started = performance.now();
  tally.cases++;
  const defect = (kind: keyof Tally['examples'], message: string) => {
    tally[kind]++;
    if (tally.examples[kind].length < EXAMPLES) tally.examples[kind].push({ ...where, message });
  };
  let bundle: Bundle | undefined;
  let decoded: DecodedBundle | undefined;
  try {
    bundle = await openBundle(bytes);
    decoded = await decodeBundle(bytes);
  } catch (e) {
    if (e instanceof LarderError) {
      tally.rejected[e.code] = (tally.rejected[e.code] ?? 0) + 1;
      tally.byStrategy[where.strategy].rejected++;
    } else defect('otherErrors', describeError(e));
  }
  if (bundle && decoded) {
    tally.accepted++;
    tally.byStrategy[where.strategy].accepted++;
    const asOf = Date.parse(bundle.manifest.asOf);
    try {
      readEverything(bundle, decoded, (Number.isNaN(asOf) ? 0 : asOf) + 1_800_000, tally);
    } catch (e) {
      defect('acceptedThenThrew', describeError(e));
    }
  }
  const ms = performance.now() - started;
  tally.slowestMs = Math.max(tally.slowestMs, ms);
  if (ms > HANG_MS) defect('hangs', `took ${ms.toFixed(0)} ms`);
}

/**
 * Runs cases [from, to) of run `runSeed`. `beat(n)` is called before each
 * case so that a watchdog can tell which case a stuck process is in.
 */
export async function runCases(seeds: readonly (SeedInfo & { name: string })[], runSeed: number, from: number, to: number, tally: Tally, beat?: (n: number) => void): Promise<void> {
  for (let n = from; n < to; n++) {
    beat?.(n);
    const c = await generateCase(seeds, runSeed, n);
    await judge(c.bytes, { caseNumber: n, strategy: c.strategy, seed: c.seed }, tally);
  }
}

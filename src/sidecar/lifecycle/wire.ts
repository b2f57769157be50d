/**
 * The sidecar's lifecycle parts from its options, in one place so serve.ts
 * wires them in a few lines: the gate (signatures, version mark), the
 * hot-key counter and its files, and the routes they add (/admin/rollback,
 * /hot-keys).
 */
import { join } from 'node:path';
import type { Hono } from 'hono';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type ServeOptions, serveOption } from '../options.js';
import type { ServingStateHolder } from '../serving-state.js';
import { type Measured, mountAdmin } from './admin.js';
import { BundleGate } from './gate.js';
import { HotKeyCounter, mountHotKeys } from './hot-keys.js';
import { HotKeyFiles } from './hot-keys-file.js';
import { LarderError } from '../../core/errors.js';
import { OriginSync } from './origin-sync.js';

export const DEFAULT_HOT_KEY_CAPACITY = 1000;

export interface Lifecycle {
  gate: BundleGate;
  hotKeys: HotKeyCounter;
  mount(app: Hono, measured: Measured): void;
  /** With --bundle-url: starts following the origin; `landed` is the folder source's check. */
  startSync(landed: () => Promise<void>): Promise<void>;
  sync: OriginSync | undefined;
  /** Stops following the origin and the hot keys timer. */
  stop(): void;
  /** At shutdown, after the last request: writes the hot keys files one last time. */
  close(): Promise<void>;
}

export async function createLifecycle(options: ServeOptions, deps: { holder: ServingStateHolder; log: Logger; metrics: Metrics; now: () => number }): Promise<Lifecycle> {
  const guarded = (options.publicKeys?.length ?? 0) > 0 || options.adminToken !== undefined;
  const stateFile = options.stateFile ?? (guarded ? join(options.bundles, '.larder-state.json') : undefined);
  const gate = await BundleGate.create({ publicKeyFiles: options.publicKeys ?? [], stateFile, now: deps.now, maxBundleBytes: options.maxBundleBytes });
  if (gate.signed) deps.log.info(`serving only bundles signed by key ${gate.keys.map((k) => k.keyId).join(', ')}; accepted versions kept in ${stateFile}`);
  const hotKeys = new HotKeyCounter(options.hotKeyCapacity ?? DEFAULT_HOT_KEY_CAPACITY);
  let hotKeyFiles: HotKeyFiles | undefined;
  if (options.hotKeysOut !== undefined) {
    if (hotKeys.capacity === 0) throw new LarderError('LARDER_ERR_OPTION', '--hot-keys-out needs hot-key counting, but --hot-key-capacity is 0');
    hotKeyFiles = await HotKeyFiles.start({ dir: options.hotKeysOut, everyMs: serveOption(options, 'hotKeysEverySeconds') * 1000, counter: hotKeys, holder: deps.holder, log: deps.log });
  }
  let sync: OriginSync | undefined;
  return {
    gate,
    hotKeys,
    get sync() {
      return sync;
    },
    async startSync(landed) {
      if (options.bundleUrl === undefined) return;
      const current = () => {
        const state = deps.holder.current;
        return state ? { version: state.version, path: state.origin } : undefined;
      };
      sync = new OriginSync({ url: options.bundleUrl, dir: options.bundles, pollMs: options.pollMs, maxBytes: options.maxBundleBytes, gate, log: deps.log, landed, current });
      await sync.start();
    },
    stop() {
      sync?.stop();
      hotKeyFiles?.stop();
    },
    async close() {
      await hotKeyFiles?.close();
    },
    mount(app, measured) {
      mountAdmin(app, measured, options.adminToken, { dir: options.bundles, holder: deps.holder, gate, log: deps.log, metrics: deps.metrics });
      mountHotKeys(app, measured, hotKeys, deps.holder);
    },
  };
}

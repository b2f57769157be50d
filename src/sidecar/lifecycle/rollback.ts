/**
 * An operator's rollback: serve a chosen earlier version now, and keep
 * serving it (across restarts, through the gate's version mark) until a
 * version newer than any accepted so far appears. The file still has to
 * pass every check but the version mark: signature, expiry, checksums.
 */
import { listBundles } from '../../bundle-file.js';
import { LarderError } from '../../core/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ServingStateHolder } from '../serving-state.js';
import type { BundleGate } from './gate.js';

export interface RollbackDeps {
  dir: string;
  holder: ServingStateHolder;
  gate: BundleGate;
  log: Logger;
  metrics?: Metrics;
}

export interface RollbackResult {
  project: string;
  from: number;
  to: number;
}

/** Throws LARDER_ERR_NOT_READY, _BAD_REQUEST (not earlier), _UNKNOWN_VERSION or _ROLLBACK_REJECTED. */
export async function rollbackTo(deps: RollbackDeps, version: number, who: string): Promise<RollbackResult> {
  const current = deps.holder.current;
  if (!current) throw new LarderError('LARDER_ERR_NOT_READY', `nothing to roll back: ${deps.holder.notReadyReason}`);
  const project = current.manifest.project;
  if (version >= current.version) {
    throw new LarderError('LARDER_ERR_BAD_REQUEST', `a rollback goes to an earlier version: v${version} is not earlier than v${current.version}, the one being served`);
  }
  const file = (await listBundles(deps.dir, project)).find((b) => b.version === version);
  if (!file) throw new LarderError('LARDER_ERR_UNKNOWN_VERSION', `no bundle file of ${project} v${version} in ${deps.dir}`);
  let bundle;
  try {
    bundle = await deps.gate.open(file.path);
  } catch (e) {
    deps.metrics?.countBundleLoad('rejected');
    throw new LarderError('LARDER_ERR_ROLLBACK_REJECTED', `cannot roll back to v${version}: ${(e as Error).message}; still serving v${current.version}`, { cause: e });
  }
  if (bundle.manifest.project !== project || bundle.version !== version) {
    throw new LarderError('LARDER_ERR_ROLLBACK_REJECTED', `cannot roll back to v${version}: ${file.path} holds ${bundle.manifest.project} v${bundle.version}`);
  }
  // The mark first: once it is on disk a restart serves the same version.
  await deps.gate.rolledBack(project, version);
  deps.holder.install(bundle, file.path);
  deps.metrics?.countBundleLoad('ok');
  deps.log.warn(`ROLLBACK by ${who}: ${project} v${current.version} -> v${version} (${file.path}); versions up to v${deps.gate.mark(project)?.skipThrough ?? current.version} are skipped until a newer one appears`);
  return { project, from: current.version, to: version };
}

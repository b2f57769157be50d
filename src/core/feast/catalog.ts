/** The served catalog: views and services as a bundle's manifest defines them. */
import { LarderError } from '../errors.js';
import type { BundleManifest } from '../bundle/format.js';
import type { ViewSpec } from '../resolve/tier.js';
import { type FeatureRef, SelectionCache } from './selection.js';

export type { FeatureRef } from './selection.js';

export interface ServingCatalog {
  project: string;
  /** Online views held by the bundle. */
  views: ReadonlyMap<string, ViewSpec>;
  /** Feature service name -> "view:feature" refs with "view:*" expanded. */
  services: ReadonlyMap<string, readonly string[]>;
  /**
   * Every servable "view:feature" string. Requests repeat the same refs, so a
   * lookup here replaces parsing each one (splitting strings cost more than
   * the whole bundle lookup).
   */
  refs: ReadonlyMap<string, FeatureRef>;
  /** Views defined in the repo but not served online (for clearer errors). */
  offlineViews: ReadonlySet<string>;
  /** The feature lists requests gave last, resolved once each (see selection.ts). */
  selections: SelectionCache;
}

export function catalogFromManifest(manifest: BundleManifest): ServingCatalog {
  const views = new Map<string, ViewSpec>();
  for (const vm of manifest.views) {
    const def = manifest.repo.featureViews.find((v) => v.name === vm.name);
    if (!def) throw new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `bundle is corrupt: view "${vm.name}" has no definition`);
    views.set(vm.name, {
      name: vm.name,
      def,
      features: def.features,
      featureIndex: new Map(def.features.map((f, i) => [f.name, i])),
      joinKeys: vm.joinKeys,
      ttlSeconds: def.ttlSeconds,
    });
  }
  const services = new Map<string, string[]>();
  for (const s of manifest.repo.featureServices) {
    const refs: string[] = [];
    for (const ref of s.features) {
      const [view, feature] = ref.split(':') as [string, string];
      if (feature === '*') {
        const def = manifest.repo.featureViews.find((v) => v.name === view);
        for (const f of def?.features ?? []) refs.push(`${view}:${f.name}`);
      } else refs.push(ref);
    }
    services.set(s.name, refs);
  }
  const refs = new Map<string, FeatureRef>();
  for (const view of views.values()) {
    view.features.forEach((f, featureIndex) => {
      refs.set(`${view.name}:${f.name}`, { view, featureIndex, shortName: f.name, fullName: `${view.name}__${f.name}` });
    });
  }
  const offlineViews = new Set(manifest.repo.featureViews.filter((v) => !views.has(v.name)).map((v) => v.name));
  return { project: manifest.project, views, services, refs, offlineViews, selections: new SelectionCache({ refs, views, offlineViews }) };
}

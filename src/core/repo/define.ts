/**
 * Typed helpers for `larder.config.ts`. They only give TypeScript users type
 * checking and defaults; `validateRepo` is what enforces the rules, for every
 * config format alike.
 */
import type { EntityDef, FeatureServiceDef, FeatureViewDef, RepoDef, SourceDef } from './types.js';

export type RepoInput = Omit<RepoDef, 'entities' | 'sources' | 'featureViews' | 'featureServices'> & {
  entities?: EntityDef[];
  sources?: SourceDef[];
  featureViews?: FeatureViewDef[];
  featureServices?: FeatureServiceDef[];
};

export function defineRepo(repo: RepoInput): RepoDef {
  return {
    project: repo.project,
    entities: repo.entities ?? [],
    sources: repo.sources ?? [],
    featureViews: repo.featureViews ?? [],
    featureServices: repo.featureServices ?? [],
  };
}

export const defineEntity = (e: EntityDef): EntityDef => e;
export const defineSource = (s: SourceDef): SourceDef => s;
export const defineFeatureView = (v: FeatureViewDef): FeatureViewDef => v;
export const defineFeatureService = (s: FeatureServiceDef): FeatureServiceDef => s;

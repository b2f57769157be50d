/** Feature repo definitions: the shape every config format compiles to. */
import type { Dtype } from '../dtypes.js';

export interface EntityDef {
  name: string;
  /** Columns that identify the entity; several make a composite key. */
  joinKeys: string[];
  description?: string;
}

export interface SourceDef {
  name: string;
  /** Relative to the repo folder; may be a glob. Parquet, CSV or Arrow IPC. */
  path: string;
  timestampField: string;
  createdTimestampField?: string;
}

export interface FeatureDef {
  name: string;
  dtype: Dtype;
  /** Returned as the value when the key is NOT_FOUND. */
  default?: unknown;
  description?: string;
}

export interface FeatureViewDef {
  name: string;
  entities: string[];
  source: string;
  /** Maximum age of a value before it is OUTSIDE_MAX_AGE; 0 = never stale. */
  ttlSeconds: number;
  /** Whether the view is served online (in bundles); default true. */
  online?: boolean;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
  features: FeatureDef[];
}

export interface FeatureServiceDef {
  name: string;
  /** "view:feature" or "view:*". */
  features: string[];
  description?: string;
}

export interface RepoDef {
  project: string;
  entities: EntityDef[];
  sources: SourceDef[];
  featureViews: FeatureViewDef[];
  featureServices: FeatureServiceDef[];
}

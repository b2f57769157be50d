/**
 * What a request's list of feature references selects: its output columns,
 * their names and the views they read. A model asks for the same list on
 * every request, so each catalog keeps the selections of the lists it saw
 * last and a repeated list is recognized by comparing its strings, instead
 * of looking up and resolving every reference again (for 50 features that
 * was most of the cost of planning a request).
 */
import { isNumberDtype } from '../dtypes.js';
import { LarderError, quoteInput } from '../errors.js';
import type { ViewSpec } from '../resolve/tier.js';

/** A valid "view:feature" reference, resolved once per catalog. */
export interface FeatureRef {
  view: ViewSpec;
  featureIndex: number;
  /** Output name with full_feature_names false / true. */
  shortName: string;
  fullName: string;
}

/** What a selection is resolved against: the catalog's servable references and views. */
export interface RefTable {
  /** Every servable "view:feature" string. */
  refs: ReadonlyMap<string, FeatureRef>;
  /** Online views served. */
  views: ReadonlyMap<string, ViewSpec>;
  /** Views defined in the repo but not served online (for clearer errors). */
  offlineViews: ReadonlySet<string>;
}

/** One output column: a feature of a view. */
export interface OutputColumn {
  view: ViewSpec;
  featureIndex: number;
  /** The column's name in the response (view__feature with full_feature_names). */
  name: string;
  /** Whether it holds float32 values (scalars or lists), which JSON writes at float32 precision. */
  float32: boolean;
  /** Whether its values are plain numbers (int64, float32, float64), carried as doubles (see AnswerColumns). */
  number: boolean;
}

export interface Selection {
  /** The references as given; kept to recognize the same list again. */
  readonly refs: readonly string[];
  readonly fullNames: boolean;
  readonly outputs: readonly OutputColumn[];
  /** The output names, in order: one array per selection, so a serializer may keep its encoding. */
  readonly names: readonly string[];
  /** The distinct views the outputs read, in order of first use. */
  readonly views: readonly ViewSpec[];
}

/** How many recent selections a catalog keeps (a few models per sidecar; a bound against lists that never repeat). */
const KEPT = 8;

export class SelectionCache {
  /** Newest first; the oldest is dropped. */
  private readonly recent: Selection[] = [];

  constructor(private readonly catalog: RefTable) {}

  /**
   * The selection of `refs` (strings checked here: a request may send
   * anything); a LarderError naming the first reference that is not served.
   */
  select(refs: unknown, fullNames: boolean): Selection {
    const recent = this.recent;
    if (Array.isArray(refs)) {
      for (let i = 0; i < recent.length; i++) {
        const s = recent[i]!;
        if (s.fullNames === fullNames && sameRefs(s.refs, refs)) return s;
      }
    }
    const s = resolveSelection(this.catalog, refs, fullNames);
    if (recent.length === KEPT) recent.pop();
    recent.unshift(s);
    return s;
  }
}

function sameRefs(kept: readonly string[], given: readonly unknown[]): boolean {
  if (kept === given) return true;
  if (kept.length !== given.length) return false;
  for (let i = 0; i < kept.length; i++) if (kept[i] !== given[i]) return false;
  return true;
}

function resolveSelection(catalog: RefTable, given: unknown, fullNames: boolean): Selection {
  if (!Array.isArray(given) || given.length === 0 || !given.every((f) => typeof f === 'string')) {
    throw new LarderError('LARDER_ERR_BAD_REQUEST', '"features" must be a non-empty array of "view:feature" strings (or give "feature_service")');
  }
  const refs = (given as readonly string[]).slice();
  const outputs: OutputColumn[] = [];
  const views = new Set<ViewSpec>();
  const add = (ref: FeatureRef) => {
    const dtype = ref.view.features[ref.featureIndex]!.dtype;
    outputs.push({
      view: ref.view,
      featureIndex: ref.featureIndex,
      name: fullNames ? ref.fullName : ref.shortName,
      float32: dtype === 'float32' || dtype === 'float32[]',
      number: isNumberDtype(dtype),
    });
    views.add(ref.view);
  };
  for (const r of refs) {
    const ref = catalog.refs.get(r);
    if (ref) add(ref);
    // "view:*" selects every feature of the view, in definition order, as in feature services.
    else if (r.endsWith(':*') && catalog.views.has(r.slice(0, -2))) {
      const view = catalog.views.get(r.slice(0, -2))!;
      for (const f of view.features) add(catalog.refs.get(`${view.name}:${f.name}`)!);
    } else unknownRef(catalog, r);
  }
  return { refs, fullNames, outputs, names: outputs.map((o) => o.name), views: [...views] };
}

/** Explains why a reference that the catalog does not hold is bad; always throws. */
function unknownRef(catalog: Omit<RefTable, 'refs'>, ref: string): never {
  const [viewName, featureName, extra] = ref.split(':');
  if (!viewName || !featureName || extra !== undefined) {
    throw new LarderError('LARDER_ERR_BAD_REQUEST', `feature reference ${quoteInput(ref)} is not "view:feature" (or "view:*" for all of a view's features)`);
  }
  const view = catalog.views.get(viewName);
  if (!view) {
    const why = catalog.offlineViews.has(viewName) ? 'is not served online (online: false)' : `does not exist (known: ${[...catalog.views.keys()].join(', ')})`;
    throw new LarderError('LARDER_ERR_UNKNOWN_VIEW', `feature view ${quoteInput(viewName)} ${why}`);
  }
  throw new LarderError('LARDER_ERR_UNKNOWN_FEATURE', `feature view "${viewName}" has no feature ${quoteInput(featureName)} (it has: ${view.features.map((f) => f.name).join(', ')})`);
}

/**
 * Prometheus metrics in the text exposition format (version 0.0.4). Hand
 * rolled because the set is small: counters and one histogram are plain
 * numbers updated on the request path (no label strings built per request);
 * everything is formatted only when /metrics is scraped.
 */
import type { FieldStatus } from '../core/asof.js';
import type { StatusCounts } from '../core/feast/answer.js';
import type { ServingStateHolder } from './serving-state.js';

/** Upper bounds of the latency buckets, seconds: 50 µs up to 2.5 s. */
export const LATENCY_BUCKETS_SECONDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
] as const;

const FIELD_STATUSES: readonly FieldStatus[] = ['PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'];

class RequestSeries {
  count = 0;
  sumSeconds = 0;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS_SECONDS.length + 1);

  observe(seconds: number): void {
    this.count++;
    this.sumSeconds += seconds;
    let i = 0;
    while (i < LATENCY_BUCKETS_SECONDS.length && seconds > LATENCY_BUCKETS_SECONDS[i]!) i++;
    this.buckets[i]!++;
  }
}

export const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * A component's own metric families (the served log, drift), rendered
 * after the built-in ones on each scrape; `nowMs` is the scrape's clock.
 */
export type MetricsCollector = (out: string[], nowMs: number) => void;

/** Starts a metric family: its HELP and TYPE lines. */
export function metricFamily(out: string[], name: string, type: 'counter' | 'gauge', help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

export class Metrics {
  /** route -> HTTP status -> series. */
  private readonly requests = new Map<string, Map<number, RequestSeries>>();
  /** Entity lookups by the name of the tier that answered: whatever tiers are configured. */
  private readonly servedByTier = new Map<string, number>();
  /** Tier lookups that failed or timed out (their keys read as misses), by tier name. */
  private readonly tierErrors = new Map<string, number>();
  private readonly valuesByStatus: Record<FieldStatus, number> = { PRESENT: 0, NULL_VALUE: 0, NOT_FOUND: 0, OUTSIDE_MAX_AGE: 0 };
  private readonly bundleLoads = { ok: 0, rejected: 0 };
  private readonly collectors: MetricsCollector[] = [];

  /** Adds a component's metrics to every scrape. */
  addCollector(collector: MetricsCollector): void {
    this.collectors.push(collector);
  }

  observeRequest(route: string, status: number, seconds: number): void {
    let byStatus = this.requests.get(route);
    if (!byStatus) this.requests.set(route, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) byStatus.set(status, (series = new RequestSeries()));
    series.observe(seconds);
  }

  /**
   * Counts one answered request: entity lookups by the tier that answered
   * (servedBy[i] lookups by tierNames[i]), feature values by status.
   */
  countServed(tierNames: readonly string[], servedBy: Int32Array, statuses: Readonly<StatusCounts>): void {
    const tiers = this.servedByTier;
    for (let i = 0; i < tierNames.length; i++) {
      const name = tierNames[i]!;
      tiers.set(name, (tiers.get(name) ?? 0) + servedBy[i]!);
    }
    const counts = this.valuesByStatus;
    counts.PRESENT += statuses.PRESENT;
    counts.NULL_VALUE += statuses.NULL_VALUE;
    counts.NOT_FOUND += statuses.NOT_FOUND;
    counts.OUTSIDE_MAX_AGE += statuses.OUTSIDE_MAX_AGE;
  }

  /** Counts a tier lookup that failed or passed its deadline. */
  countTierError(tier: string): void {
    this.tierErrors.set(tier, (this.tierErrors.get(tier) ?? 0) + 1);
  }

  countBundleLoad(outcome: 'ok' | 'rejected'): void {
    this.bundleLoads[outcome]++;
  }

  /** The exposition text; `nowMs` dates the bundle age. */
  render(holder: ServingStateHolder, nowMs: number): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family('larder_http_requests_total', 'counter', 'HTTP requests answered, by route and status.');
    for (const [route, byStatus] of this.requests) {
      for (const [status, s] of byStatus) out.push(`larder_http_requests_total{route="${escapeLabel(route)}",status="${status}"} ${s.count}`);
    }
    family('larder_http_request_duration_seconds', 'histogram', 'Time from the request reaching the app to its response being ready, by route and status.');
    for (const [route, byStatus] of this.requests) {
      for (const [status, s] of byStatus) {
        const labels = `route="${escapeLabel(route)}",status="${status}"`;
        let cumulative = 0;
        LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
          cumulative += s.buckets[i]!;
          out.push(`larder_http_request_duration_seconds_bucket{${labels},le="${le}"} ${cumulative}`);
        });
        out.push(`larder_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${s.count}`);
        out.push(`larder_http_request_duration_seconds_sum{${labels}} ${s.sumSeconds}`);
        out.push(`larder_http_request_duration_seconds_count{${labels}} ${s.count}`);
      }
    }

    family('larder_entities_served_total', 'counter', 'Entity lookups (entity x feature view) by the tier that answered; "default" means no tier held the key.');
    for (const tier of holder.tierNames()) out.push(`larder_entities_served_total{tier="${escapeLabel(tier)}"} ${this.servedByTier.get(tier) ?? 0}`);
    family('larder_tier_errors_total', 'counter', 'Tier lookups that failed or passed their deadline; their keys were answered as misses.');
    for (const tier of holder.tierNames()) {
      if (tier !== 'default') out.push(`larder_tier_errors_total{tier="${escapeLabel(tier)}"} ${this.tierErrors.get(tier) ?? 0}`);
    }
    family('larder_feature_values_total', 'counter', 'Feature values returned, by Feast field status.');
    for (const status of FIELD_STATUSES) out.push(`larder_feature_values_total{status="${status}"} ${this.valuesByStatus[status]}`);

    const state = holder.current;
    family('larder_bundle_loaded', 'gauge', '1 when a bundle is being served (the sidecar is ready), else 0.');
    out.push(`larder_bundle_loaded ${state ? 1 : 0}`);
    family('larder_bundle_loads_total', 'counter', 'Bundle files opened: swapped in (ok) or rejected as invalid.');
    out.push(`larder_bundle_loads_total{result="ok"} ${this.bundleLoads.ok}`, `larder_bundle_loads_total{result="rejected"} ${this.bundleLoads.rejected}`);
    if (state) {
      const project = escapeLabel(state.manifest.project);
      family('larder_bundle_version', 'gauge', 'Version of the bundle being served.');
      out.push(`larder_bundle_version{project="${project}"} ${state.version}`);
      family('larder_bundle_age_seconds', 'gauge', 'Seconds since the served bundle was built (its created_at).');
      out.push(`larder_bundle_age_seconds{project="${project}"} ${secondsSince(state.manifest.createdAt, nowMs)}`);
      family('larder_bundle_snapshot_age_seconds', 'gauge', "Seconds since the served bundle's snapshot time (its as_of): how old its values may be.");
      out.push(`larder_bundle_snapshot_age_seconds{project="${project}"} ${secondsSince(state.manifest.asOf, nowMs)}`);
    }

    const lru = holder.lru.stats();
    family('larder_lru_entries', 'gauge', 'Rows held by the LRU tier.');
    out.push(`larder_lru_entries ${lru.entries}`);
    family('larder_lru_bytes', 'gauge', 'Estimated heap bytes held by the LRU tier.');
    out.push(`larder_lru_bytes ${lru.bytes}`);
    family('larder_lru_max_bytes', 'gauge', 'Bound on the LRU tier (--cache-max-bytes).');
    out.push(`larder_lru_max_bytes ${holder.lru.maxBytes}`);
    family('larder_lru_lookups_total', 'counter', 'LRU lookups by outcome.');
    out.push(`larder_lru_lookups_total{result="hit"} ${lru.hits}`, `larder_lru_lookups_total{result="miss"} ${lru.misses}`);
    family('larder_lru_hit_ratio', 'gauge', 'LRU hits / lookups since start (0 before any lookup).');
    const lookups = lru.hits + lru.misses;
    out.push(`larder_lru_hit_ratio ${lookups === 0 ? 0 : lru.hits / lookups}`);
    for (const collect of this.collectors) collect(out, nowMs);
    return out.join('\n') + '\n';
  }
}

function secondsSince(iso: string, nowMs: number): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : (nowMs - t) / 1000;
}

/**
 * The serving benchmark's cases and what each request and answer looks
 * like. Shared by sidecar.mjs (validation, wrk's bodies) and
 * load-child.mjs (autocannon in its own process), so both send and check
 * the same thing.
 */

/**
 * Maximum-throughput cases: `view` names a view of servingDataset
 * (datasets.mjs) by its key in `data.views`.
 */
export const CASES = [
  { id: '1x5e', entities: 1, features: 5, view: '5e', label: '1x5 (with a float32[4] embedding)' },
  { id: '1x20', entities: 1, features: 20, view: 20, label: '1x20' },
  { id: '1x50', entities: 1, features: 50, view: 50, label: '1x50' },
  { id: '10x50', entities: 10, features: 50, view: 50, label: '10x50' },
  { id: '100x50', entities: 100, features: 50, view: 50, label: '100x50' },
];

/** Fixed-rate latency cases (autocannon), with issue 3's targets. */
export const FIXED = [
  { caseId: '1x20', rate: 1000, target: 'sidecar p99 <= bare p99 + 0.3 ms' },
  { caseId: '100x50', rate: 200, target: 'sidecar p99 < 2 ms' },
];

export const caseById = (id) => CASES.find((c) => c.id === id);

/**
 * The JSON of a request of case `c` around its keys: `prefix` + keys joined
 * by commas + `suffix`. Keys are user_id integers drawn from 0 .. keys-1,
 * which are exactly the bundle's keys (servingDataset writes user_id = row
 * number; sidecar.mjs checks both ends against the bundle).
 */
export function bodyParts(data, c) {
  const view = data.views[c.view];
  const features = data.features[c.view].map((f) => `${view}:${f}`);
  return {
    prefix: `{"features":${JSON.stringify(features)},"entities":{${JSON.stringify(data.joinKey)}:[`,
    suffix: ']}}',
    entities: c.entities,
    keys: data.keys,
  };
}

/**
 * A maker of request bodies: each call draws fresh uniformly random keys
 * across all keys, as the wrk script does (a fixed pool would repeat keys).
 */
export function bodyMaker({ prefix, suffix, entities, keys }) {
  return () => {
    let ids = String(Math.floor(Math.random() * keys));
    for (let i = 1; i < entities; i++) ids += ',' + Math.floor(Math.random() * keys);
    return Buffer.from(prefix + ids + suffix);
  };
}

/**
 * A cheap check of every answer's text, without parsing: Feast's opening,
 * one "statuses" array per output column (join key + features), and the
 * closing brackets.
 */
export function textChecker(c) {
  const head = '{"metadata":{"feature_names":["';
  const marker = '"statuses":[';
  return (text) => {
    if (!text.startsWith(head)) return `does not start with ${head}`;
    if (!text.endsWith(']}]}')) return 'does not end with ]}]}';
    let n = 0;
    for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + marker.length)) n++;
    return n === c.features + 1 ? undefined : `${n} statuses arrays, expected ${c.features + 1}`;
  };
}

/** How often an answer of case `c` is parsed during load (the text of every one is checked). */
export const deepEvery = (c) => (c.entities >= 100 ? 256 : 32);

/** The shape every answer of case `c` must have (values are checked in the validation pass). */
export function shapeChecker(c) {
  const ok = new Set(['PRESENT', 'NULL_VALUE']);
  return (r) => {
    const names = r?.metadata?.feature_names;
    if (!Array.isArray(names) || names.length !== c.features + 1) return `feature_names has ${names?.length} names, expected ${c.features + 1}`;
    if (!Array.isArray(r.results) || r.results.length !== c.features + 1) return `results has ${r.results?.length} columns`;
    for (const col of r.results) {
      if (col.values?.length !== c.entities || col.statuses?.length !== c.entities || col.event_timestamps?.length !== c.entities) {
        return `a column does not hold ${c.entities} values, statuses and timestamps`;
      }
      for (const s of col.statuses) if (!ok.has(s)) return `status ${s} (every key exists)`;
    }
    return undefined;
  };
}

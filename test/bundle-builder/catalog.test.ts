/** Catalog filtering and formatting, and the build command's option parsing. */
import { describe, expect, it } from 'vitest';
import { catalogEntries, filterCatalog, formatCatalog, formatTtl } from '../../bundle-builder/catalog.js';
import { parseAsOf, parseBuildArgs } from '../../bundle-builder/commands/build.js';
import { defineRepo } from '../../src/core/repo/define.js';

const repo = defineRepo({
  project: 'cat',
  entities: [{ name: 'driver', joinKeys: ['driver_id'] }, { name: 'user', joinKeys: ['user_id'] }],
  sources: [{ name: 's', path: 'x.parquet', timestampField: 'ts' }],
  featureViews: [
    {
      name: 'driver_stats', entities: ['driver'], source: 's', ttlSeconds: 90061, owner: 'rides', description: 'Quality of drivers',
      tags: { team: 'rides', tier: 'gold' },
      features: [{ name: 'rating', dtype: 'float64', description: 'Average rating', default: 5 }, { name: 'trips', dtype: 'int64' }],
    },
    { name: 'user_embeddings', entities: ['user'], source: 's', ttlSeconds: 0, online: false, features: [{ name: 'vec', dtype: 'float32[]', description: 'Two-tower user vector' }] },
  ],
});

describe('catalog', () => {
  const all = catalogEntries(repo);

  it('has one entry per feature with its view metadata', () => {
    expect(all.map((e) => `${e.view}:${e.feature}`)).toEqual(['driver_stats:rating', 'driver_stats:trips', 'user_embeddings:vec']);
    expect(all[0]).toMatchObject({ dtype: 'float64', owner: 'rides', ttlSeconds: 90061, online: true, tags: { team: 'rides', tier: 'gold' }, default: 5 });
    expect(all[2]).toMatchObject({ online: false, tags: {} });
  });

  it('filters by names, descriptions and tags, case-insensitively', () => {
    const names = (q: string) => filterCatalog(all, q).map((e) => e.feature);
    expect(names('RATING')).toEqual(['rating']);
    expect(names('quality')).toEqual(['rating', 'trips']); // the view description
    expect(names('two-tower')).toEqual(['vec']);
    expect(names('tier=gold')).toEqual(['rating', 'trips']);
    expect(names('embeddings')).toEqual(['vec']);
    expect(names('zzz')).toEqual([]);
    expect(filterCatalog(all, undefined)).toHaveLength(3);
  });

  it('formats TTLs and a readable table', () => {
    expect([0, 59, 3600, 90061, 86400].map(formatTtl)).toEqual(['never', '59s', '1h', '1d1h1m1s', '1d']);
    const text = formatCatalog(all);
    expect(text).toContain('driver_stats - Quality of drivers');
    expect(text).toMatch(/entities: driver {2}source: s {2}ttl: 1d1h1m1s {2}online: yes {2}owner: rides {2}tags: team=rides, tier=gold/);
    expect(text).toMatch(/^ {4}rating +float64 +5 +Average rating$/m);
    expect(text).toMatch(/^ {4}trips +int64 +- +-$/m);
    expect(text).toMatch(/ttl: never {2}online: no/);
    expect(text.trimEnd().endsWith('3 feature(s) in 2 view(s)')).toBe(true);
    expect(formatCatalog([])).toBe('(no matching features)');
  });
});

describe('build options', () => {
  const iso = (s: string) => {
    const d = parseAsOf(s);
    if (!(d instanceof Date)) throw new Error(`refused ${s}: ${d.invalid}`);
    return d.toISOString();
  };

  it('parses --as-of as ISO 8601, zone-less times as UTC', () => {
    expect(iso('2024-05-01')).toBe('2024-05-01T00:00:00.000Z');
    expect(iso('2024-05-01T12:30')).toBe('2024-05-01T12:30:00.000Z');
    expect(iso('2024-05-01T12:30:00.250Z')).toBe('2024-05-01T12:30:00.250Z');
    expect(iso('2024-05-01T14:00:00+02:00')).toBe('2024-05-01T12:00:00.000Z');
    for (const bad of ['now', '05/01/2024', '2024-02-30', '2024-05-01T25:00:00Z', '']) {
      expect(parseAsOf(bad), bad).toEqual({ invalid: expect.stringMatching(/^must be (an ISO 8601 time|a valid date and time)/) });
    }
  });

  it('takes flags over environment variables', () => {
    const env = { LARDER_OUT: '/env/out', LARDER_HOT_LIMIT: '5', LARDER_AS_OF: '2024-01-01' };
    const parse = (argv: string[]) => {
      const r = parseBuildArgs(argv, env);
      if (r.help) throw new Error('unexpected --help');
      return r.options;
    };
    expect(parse(['repo'])).toMatchObject({ repoDir: 'repo', outDir: '/env/out', hotLimit: 5, json: false });
    expect(parse(['repo', '--out', '/flag', '--hot-limit', '0', '--json'])).toMatchObject({ outDir: '/flag', hotLimit: 0, json: true });
    expect(parse(['repo']).asOf?.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    // Options left out stay out: buildBundle picks now, all keys, all cores.
    expect(parseBuildArgs(['repo'], { LARDER_OUT: 'o' })).toEqual({ help: false, options: { repoDir: 'repo', outDir: 'o', json: false, onBadRow: 'fail' } });
  });
});

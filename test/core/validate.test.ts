import { describe, expect, it } from 'vitest';
import { LarderError } from '../../src/core/errors.js';
import { validateRepo } from '../../src/core/repo/validate.js';

const FILE = '/repo/larder.config.ts';

function good(): Record<string, any> {
  return {
    project: 'shop',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: [{ name: 'events', path: 'data/*.parquet', timestampField: 'ts' }],
    featureViews: [{ name: 'user_stats', entities: ['user'], source: 'events', ttlSeconds: 3600, features: [{ name: 'clicks', dtype: 'int64', default: 0 }] }],
    featureServices: [{ name: 'ranker', features: ['user_stats:*'] }],
  };
}

function problems(mutate: (r: Record<string, any>) => void): string {
  const r = good();
  mutate(r);
  try {
    validateRepo(r, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(LarderError);
    expect((e as LarderError).code).toBe('LARDER_ERR_CONFIG');
    return (e as LarderError).message;
  }
  throw new Error('expected validation to fail');
}

describe('validateRepo', () => {
  it('accepts a good repo', () => {
    expect(validateRepo(good(), FILE).featureViews[0]!.name).toBe('user_stats');
  });

  const cases: [string, (r: Record<string, any>) => void, RegExp][] = [
    ['unknown entity', (r) => (r.featureViews[0].entities = ['shop']), /feature view "user_stats": field "entities": unknown entity "shop"/],
    ['unknown source', (r) => (r.featureViews[0].source = 'clicks'), /feature view "user_stats": field "source": unknown source "clicks"/],
    ['duplicate view', (r) => r.featureViews.push({ ...r.featureViews[0] }), /duplicate feature view name "user_stats"/],
    ['duplicate feature', (r) => r.featureViews[0].features.push({ name: 'clicks', dtype: 'int64' }), /feature view "user_stats", feature "clicks": duplicate feature name/],
    ['duplicate entity', (r) => r.entities.push({ name: 'user', joinKeys: ['x'] }), /duplicate entity name "user"/],
    ['bad dtype', (r) => (r.featureViews[0].features[0].dtype = 'int'), /feature view "user_stats", feature "clicks": field "dtype": unknown dtype "int"/],
    ['default of the wrong type', (r) => (r.featureViews[0].features[0].default = 'zero'), /feature view "user_stats", feature "clicks": field "default": "zero" is not a valid int64/],
    ['negative ttl', (r) => (r.featureViews[0].ttlSeconds = -1), /feature view "user_stats": field "ttlSeconds"/],
    ['no join keys', (r) => (r.entities[0].joinKeys = []), /entity "user": field "joinKeys"/],
    ['no timestamp field', (r) => delete r.sources[0].timestampField, /source "events": field "timestampField"/],
    ['service with unknown feature', (r) => (r.featureServices[0].features = ['user_stats:nope']), /feature service "ranker": field "features": view "user_stats" has no feature "nope"/],
    ['service with a bad ref', (r) => (r.featureServices[0].features = ['user_stats']), /feature service "ranker".*is not "view:feature"/],
    ['bad name', (r) => (r.featureViews[0].name = 'user stats'), /field "name" "user stats" must match/],
    ['no project', (r) => delete r.project, /repo: field "project"/],
  ];
  for (const [what, mutate, message] of cases) {
    it(`reports ${what}, naming the file`, () => {
      const msg = problems(mutate);
      expect(msg).toContain(FILE);
      expect(msg).toMatch(message);
    });
  }

  it('lists every problem at once', () => {
    const msg = problems((r) => {
      r.featureViews[0].source = 'nope';
      r.featureViews[0].features[0].dtype = 'int';
    });
    expect(msg).toMatch(/unknown source "nope"/);
    expect(msg).toMatch(/unknown dtype "int"/);
  });

  it('rejects a config that is not an object', () => {
    expect(() => validateRepo(42, FILE)).toThrow(/\/repo\/larder.config.ts: the config must export a repo object/);
  });
});

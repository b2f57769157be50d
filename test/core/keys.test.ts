import { describe, expect, it } from 'vitest';
import { KEY_SEPARATOR, entityKeyString, hashKey, isJoinKeyValue } from '../../src/core/keys.js';

describe('entity keys', () => {
  it('single keys are their decimal or string form', () => {
    expect(entityKeyString([1001])).toBe('1001');
    expect(entityKeyString([1001n])).toBe('1001');
    expect(entityKeyString(['a'])).toBe('a');
  });

  it('composite keys keep part boundaries', () => {
    expect(entityKeyString([1, 'x'])).toBe(`1${KEY_SEPARATOR}x`);
    expect(entityKeyString(['1', 'x'])).toBe(entityKeyString([1, 'x']));
    expect(entityKeyString(['a', 'bc'])).not.toBe(entityKeyString(['ab', 'c']));
  });

  it('join key values are checked against the key dtype', () => {
    expect(isJoinKeyValue('int64', 5)).toBe(true);
    expect(isJoinKeyValue('int64', 5.5)).toBe(false);
    expect(isJoinKeyValue('int64', '5')).toBe(false);
    expect(isJoinKeyValue('int64', 2 ** 60)).toBe(false);
    expect(isJoinKeyValue('string', 'x')).toBe(true);
    expect(isJoinKeyValue('string', 5)).toBe(false);
    expect(isJoinKeyValue('string', `a${KEY_SEPARATOR}b`)).toBe(false);
  });

  it('hashes are stable 32-bit values', () => {
    expect(hashKey('')).toBe(0x811c9dc5);
    expect(hashKey('a')).toBe(0xe40c292c);
    expect(hashKey('user-1')).toBe(hashKey('user-1'));
    expect(hashKey('user-1')).not.toBe(hashKey('user-2'));
  });
});

import { describe, expect, it } from 'vitest';
import { diffLines } from './line-diff.js';

const render = (before: string, after: string) => diffLines(before, after).map((l) => `${l.kind}${l.text}`);

describe('diffLines', () => {
  it('keeps common lines and marks removed before added', () => {
    expect(render('a\nb\nc\n', 'a\nx\nc\nd\n')).toEqual([' a', '-b', '+x', ' c', '+d']);
  });
  it('handles empty sides and equal texts', () => {
    expect(render('', 'a\n')).toEqual(['+a']);
    expect(render('a\nb', '')).toEqual(['-a', '-b']);
    expect(render('a\nb\n', 'a\nb\n')).toEqual([' a', ' b']);
  });
  it('finds the longest common subsequence', () => {
    expect(render('x\na\nb\nc\n', 'a\nb\nc\ny\n')).toEqual(['-x', ' a', ' b', ' c', '+y']);
  });
});

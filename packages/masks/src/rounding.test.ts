import { describe, expect, it } from 'vitest';
import { roundCount } from './rounding.js';

describe('roundCount', () => {
  it('rounds halves to even like Python round, and halves up like Math.round', () => {
    expect(roundCount(24.5, 'halfEven')).toBe(24);
    expect(roundCount(25.5, 'halfEven')).toBe(26);
    expect(roundCount(24.5, 'halfUp')).toBe(25);
    expect(roundCount(49 * (1 - 0.7), 'halfEven')).toBe(15); // 14.700000000000003
    expect(roundCount(49 * (1 - 0.8), 'halfEven')).toBe(10); // 9.799999999999997
  });

  it('floors and ceils', () => {
    expect(roundCount(19.6, 'floor')).toBe(19);
    expect(roundCount(19.2, 'ceil')).toBe(20);
    expect(roundCount(20, 'ceil')).toBe(20);
  });
});

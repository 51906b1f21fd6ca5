/** Checks on the change brief's contract: untrusted text appears only inside fenced blocks under the data heading. */
import { expect } from 'vitest';
import { UNTRUSTED_HEADING } from '../../src/activities/change-agent.js';

/**
 * Every line of `text` holding `planted` is inside a ```text fence that opens after UNTRUSTED_HEADING, and no such
 * line is outside a fence; the fences all close. Returns how many fenced lines held it.
 */
export function plantedOnlyInFences(text: string, planted: string): number {
  const lines = text.split('\n');
  const dataStart = lines.indexOf(UNTRUSTED_HEADING);
  expect(dataStart).toBeGreaterThan(0);
  let fence: string | null = null;
  let count = 0;
  lines.forEach((line, i) => {
    if (fence === null) {
      const open = /^(`{3,})text$/.exec(line);
      if (open) fence = open[1]!;
      else expect(line, `line ${i} outside any fence`).not.toContain(planted);
      return;
    }
    if (line === fence) {
      fence = null;
      return;
    }
    if (line.includes(planted)) {
      count++;
      expect(i).toBeGreaterThan(dataStart);
    }
  });
  expect(fence).toBeNull();
  return count;
}

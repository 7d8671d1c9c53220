import { describe, expect, it } from 'vitest';
import type { TestSpecification } from 'vitest/node';
import { rank, runOrder } from '../run-order.js';

interface FakeFile {
  project: string;
  path: string;
  /** Last recorded duration in ms; undefined: never ran. */
  ms?: number;
  failed?: boolean;
  shared?: boolean;
  groupOrder?: number;
  size?: number;
}

/** The order of fake test files, as "project path". */
function order(files: FakeFile[], exclusive: string[] = []): string[] {
  const root = '/repo';
  const ranked = files.map((f) => {
    const spec = {
      moduleId: `${root}/${f.path}`,
      project: { name: f.project, config: { isolate: !f.shared, sequence: { groupOrder: f.groupOrder ?? 0 } } },
    } as unknown as TestSpecification;
    const cached = f.ms === undefined ? undefined : { duration: f.ms, failed: f.failed ?? false };
    return rank(spec, root, exclusive, cached, f.size ?? 0);
  });
  return runOrder(ranked).map((s) => `${s.project.name} ${s.moduleId.slice(root.length + 1)}`);
}

describe('the run order (test/run-order.ts)', () => {
  it('sorts all projects together, longest first, the isolate:false files last', () => {
    expect(
      order([
        { project: 'unit', path: 'u-long', ms: 9000, shared: true },
        { project: 'integration-pg', path: 'a', ms: 2000 },
        { project: 'system', path: 'b', ms: 23000 },
        { project: 'pg', path: 'c', ms: 33000 },
        { project: 'unit', path: 'u-short', ms: 10, shared: true },
        { project: 'system', path: 'd', ms: 500 },
      ]),
    ).toEqual(['pg c', 'system b', 'integration-pg a', 'system d', 'unit u-long', 'unit u-short']);
  });

  it('puts files never run first (largest first), then last run failures, then the rest; groups in their order', () => {
    expect(
      order([
        { project: 'system', path: 'late-group', ms: 99000, groupOrder: 1 },
        { project: 'system', path: 'slow', ms: 20000 },
        { project: 'system', path: 'failed', ms: 100, failed: true },
        { project: 'system', path: 'new-small', size: 100 },
        { project: 'system', path: 'new-big', size: 9000 },
      ]),
    ).toEqual(['system new-big', 'system new-small', 'system failed', 'system slow', 'system late-group']);
  });

  it('spreads exclusive files apart: the first keeps its place, the others go last before the shared files', () => {
    expect(
      order(
        [
          { project: 'pg', path: 'test/pg/kill-a.test.ts', ms: 33000 },
          { project: 'pg', path: 'test/pg/kill-b.test.ts', ms: 5000 },
          { project: 'system', path: 'x', ms: 20000 },
          { project: 'system', path: 'y', ms: 1000 },
          { project: 'unit', path: 'u', ms: 3000, shared: true },
        ],
        ['test/pg/kill-a.test.ts', 'test/pg/kill-b.test.ts'],
      ),
    ).toEqual(['pg test/pg/kill-a.test.ts', 'system x', 'system y', 'pg test/pg/kill-b.test.ts', 'unit u']);
  });
});

import { describe, expect, it } from 'vitest';
import type { TestSpecification } from 'vitest/node';
import { rank, runOrder } from '../run-order.js';

interface FakeFile {
  project: string;
  path: string;
  /** Last recorded duration in ms; undefined: never ran. */
  ms?: number;
  failed?: boolean;
  /** Its project runs with isolate: true (a fresh worker per file). */
  isolated?: boolean;
  groupOrder?: number;
  size?: number;
}

/** The order of fake test files, as "project path", with `workers` files at a time. */
function order(files: FakeFile[], exclusive: string[] = [], workers = 4): string[] {
  const root = '/repo';
  const ranked = files.map((f) => {
    const spec = {
      moduleId: `${root}/${f.path}`,
      project: { name: f.project, config: { isolate: f.isolated ?? false, sequence: { groupOrder: f.groupOrder ?? 0 } } },
    } as unknown as TestSpecification;
    const cached = f.ms === undefined ? undefined : { duration: f.ms, failed: f.failed ?? false };
    return rank(spec, root, exclusive, cached, f.size ?? 0);
  });
  return runOrder(ranked, workers).map((s) => `${s.project.name} ${s.moduleId.slice(root.length + 1)}`);
}

describe('the run order (test/run-order.ts)', () => {
  it('puts the long files of all projects first, longest first, then the rest project by project', () => {
    expect(
      order([
        { project: 'unit', path: 'u-long', ms: 9000 },
        { project: 'integration-pg', path: 'a', ms: 2000 },
        { project: 'system', path: 'b', ms: 23000 },
        { project: 'pg', path: 'c', ms: 33000 },
        { project: 'unit', path: 'u-short', ms: 10 },
        { project: 'system', path: 'd', ms: 500 },
        { project: 'integration-pg', path: 'e', ms: 1500 },
        { project: 'system', path: 'f', ms: 3000 },
      ]),
      // Long: at least 40 % of the longest (33 s). The blocks by their longest file: unit (u-long),
      // system (f), integration-pg (a).
    ).toEqual(['pg c', 'system b', 'unit u-long', 'unit u-short', 'system f', 'system d', 'integration-pg a', 'integration-pg e']);
  });

  it('puts the files of an isolated project among the long ones: each gets a fresh worker anyway', () => {
    expect(
      order([
        { project: 'system', path: 'long', ms: 20000 },
        { project: 'system', path: 'short', ms: 100 },
        { project: 'solo', path: 'tiny', ms: 50, isolated: true },
      ]),
    ).toEqual(['system long', 'solo tiny', 'system short']);
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
    ).toEqual(['system new-big', 'system failed', 'system slow', 'system new-small', 'system late-group']);
  });

  it('on a fresh clone (nothing recorded) ranks by size the same way', () => {
    expect(
      order([
        { project: 'unit', path: 'u', size: 2000 },
        { project: 'system', path: 'big', size: 40000 },
        { project: 'pg', path: 'p', size: 3000 },
        { project: 'system', path: 's', size: 1000 },
      ]),
    ).toEqual(['system big', 'pg p', 'unit u', 'system s']);
  });

  it('spreads exclusive files apart: the first keeps its place, the next goes where the files before it should outlast it', () => {
    const kills = ['test/pg/kill-a.test.ts', 'test/pg/kill-b.test.ts'];
    const units = Array.from({ length: 12 }, (_, i) => `unit u${i}`);
    const files: FakeFile[] = [
      { project: 'pg', path: kills[0]!, ms: 30000 },
      { project: 'pg', path: kills[1]!, ms: 20000 },
      { project: 'system', path: 'x', ms: 25000 },
      { project: 'system', path: 'y', ms: 4000 },
      ...units.map((u) => ({ project: 'unit', path: u.slice(5), ms: 5000 })),
    ];
    // Two at a time: kill-a runs from 0 to 30 s; kill-a, x and u0 before it keep two workers busy
    // for (30 + 25 + 5) / 2 = 30 s.
    expect(order(files, kills, 2)).toEqual([`pg ${kills[0]}`, 'system x', units[0], `pg ${kills[1]}`, ...units.slice(1), 'system y']);
    // Four at a time, all the other files together last (55 + 60 + 4) / 4 < 30 s: kill-b goes last.
    expect(order(files, kills, 4)).toEqual([`pg ${kills[0]}`, 'system x', ...units, 'system y', `pg ${kills[1]}`]);
  });

  it('with no recorded durations (a fresh clone), puts the next exclusive file before the last block', () => {
    const kills = ['test/pg/kill-a.test.ts', 'test/pg/kill-b.test.ts'];
    expect(
      order(
        [
          { project: 'pg', path: kills[0]!, size: 30000 },
          { project: 'pg', path: kills[1]!, size: 20000 },
          { project: 'system', path: 'x', size: 25000 },
          { project: 'system', path: 'y', size: 4000 },
          ...['u0', 'u1', 'u2'].map((u) => ({ project: 'unit', path: u, size: 5000 })),
        ],
        kills,
      ),
    ).toEqual([`pg ${kills[0]}`, 'system x', 'unit u0', 'unit u1', 'unit u2', `pg ${kills[1]}`, 'system y']);
  });
});

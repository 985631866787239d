import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describePositionProblem,
  judgePositions,
  type PartitionRange,
} from '../../../shared/src/domain/positions.js';

const ranges = (...rs: [number, number, number][]): PartitionRange[] =>
  rs.map(([partition, low, high]) => ({ partition, low: BigInt(low), high: BigInt(high) }));
const stored = (...ps: [number, number][]): Map<number, bigint> =>
  new Map(ps.map(([p, n]) => [p, BigInt(n)]));

const cases: {
  name: string;
  storedClusterId: string | null;
  stored: Map<number, bigint>;
  ranges: PartitionRange[];
  problems: string[];
  initial: [number, number][];
}[] = [
  {
    name: 'a new group: every partition starts at its first offset',
    storedClusterId: null,
    stored: stored(),
    ranges: ranges([0, 0, 10], [1, 5, 7]),
    problems: [],
    initial: [
      [0, 0],
      [1, 5],
    ],
  },
  {
    name: 'positions inside the ranges on the same cluster',
    storedClusterId: 'c1',
    stored: stored([0, 10], [1, 6]),
    ranges: ranges([0, 0, 10], [1, 5, 7]),
    problems: [],
    initial: [],
  },
  {
    name: 'positions from before cluster ids were kept are adopted when they fit',
    storedClusterId: null,
    stored: stored([0, 3]),
    ranges: ranges([0, 0, 10]),
    problems: [],
    initial: [],
  },
  {
    name: 'rows never written (-1) are created like missing ones',
    storedClusterId: 'c1',
    stored: stored([0, -1], [1, 4]),
    ranges: ranges([0, 2, 10], [1, 0, 9]),
    problems: [],
    initial: [[0, 2]],
  },
  {
    name: 'a partition added to the topic gets a position',
    storedClusterId: 'c1',
    stored: stored([0, 4]),
    ranges: ranges([0, 0, 9], [1, 0, 3]),
    problems: [],
    initial: [[1, 0]],
  },
  {
    name: 'another cluster',
    storedClusterId: 'c0',
    stored: stored([0, 4]),
    ranges: ranges([0, 0, 9]),
    problems: ['cluster_changed'],
    initial: [],
  },
  {
    name: 'another cluster with nothing written yet is no problem',
    storedClusterId: 'c0',
    stored: stored([0, -1]),
    ranges: ranges([0, 0, 9]),
    problems: [],
    initial: [[0, 0]],
  },
  {
    name: 'a recreated topic: positions past the end',
    storedClusterId: 'c1',
    stored: stored([0, 300_000], [1, 0]),
    ranges: ranges([0, 0, 120], [1, 0, 0]),
    problems: ['beyond_end'],
    initial: [],
  },
  {
    name: 'retention deleted what was not applied',
    storedClusterId: 'c1',
    stored: stored([0, 50]),
    ranges: ranges([0, 60, 90]),
    problems: ['below_start'],
    initial: [],
  },
  {
    name: 'a position at the very start and the very end is fine',
    storedClusterId: 'c1',
    stored: stored([0, 60], [1, 90]),
    ranges: ranges([0, 60, 90], [1, 60, 90]),
    problems: [],
    initial: [],
  },
  {
    name: 'fewer partitions than positions',
    storedClusterId: 'c1',
    stored: stored([0, 1], [5, 2]),
    ranges: ranges([0, 0, 9]),
    problems: ['partition_missing'],
    initial: [],
  },
];

for (const c of cases) {
  void test(`judgePositions: ${c.name}`, () => {
    const v = judgePositions({
      clusterId: 'c1',
      storedClusterId: c.storedClusterId,
      stored: c.stored,
      ranges: c.ranges,
    });
    assert.deepEqual(
      v.problems.map((p) => p.kind),
      c.problems,
    );
    assert.deepEqual(
      v.initial.map((i) => [i.partition, Number(i.offset)]),
      c.initial,
    );
    for (const p of v.problems) assert.ok(describePositionProblem(p).length > 20);
  });
}

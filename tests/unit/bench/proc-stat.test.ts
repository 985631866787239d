import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuSeconds, parseProcStat, perWager, treeTicks } from '../../../bench/e2e/proc-stat.js';

// Field 3 onwards as proc(5) numbers them; utime 14, stime 15, cutime 16, cstime 17, rss 24.
const tail = (utime: number, stime: number, cutime: number, cstime: number, rss: number): string =>
  `S 100 100 100 0 -1 4194560 500 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 1 0 12345 104857600 ${rss} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0`;

void test('parseProcStat reads pid, name, parent, CPU ticks and resident pages', () => {
  const cases: { line: string; want: ReturnType<typeof parseProcStat> }[] = [
    {
      line: `4873 (java) ${tail(1234, 56, 0, 0, 97000)}`,
      want: {
        pid: 4873,
        comm: 'java',
        state: 'S',
        ppid: 100,
        utime: 1234,
        stime: 56,
        cutime: 0,
        cstime: 0,
        rssPages: 97000,
      },
    },
    {
      // Spaces and parentheses inside the name: fields count from the last ')'.
      line: `77 (postgres: walwriter (x)) ${tail(5, 6, 7, 8, 9)}`,
      want: {
        pid: 77,
        comm: 'postgres: walwriter (x)',
        state: 'S',
        ppid: 100,
        utime: 5,
        stime: 6,
        cutime: 7,
        cstime: 8,
        rssPages: 9,
      },
    },
    {
      line: `1 (node) ${tail(0, 0, 300, 40, 1)}`,
      want: {
        pid: 1,
        comm: 'node',
        state: 'S',
        ppid: 100,
        utime: 0,
        stime: 0,
        cutime: 300,
        cstime: 40,
        rssPages: 1,
      },
    },
    { line: '', want: null },
    { line: '12 node S 1 2 3', want: null },
    { line: '12 (node) S 1 2 3', want: null },
    { line: `x (node) ${tail(1, 2, 3, 4, 5)}`, want: null },
    { line: `12 (node) ${tail(-1, 2, 3, 4, 5)}`, want: null },
  ];
  for (const c of cases) assert.deepEqual(parseProcStat(c.line), c.want, c.line.slice(0, 40));
});

void test('treeTicks adds reaped children', () => {
  assert.equal(treeTicks({ utime: 1, stime: 2, cutime: 30, cstime: 4 }), 37);
});

void test('cpuSeconds: per pid end minus start, born during the interval from 0, exited at its last sample', () => {
  const cases: {
    name: string;
    start: [number, number][];
    end: [number, number][];
    pids: number[];
    want: number;
  }[] = [
    { name: 'one process', start: [[1, 100]], end: [[1, 350]], pids: [1], want: 2.5 },
    { name: 'born during it', start: [], end: [[2, 40]], pids: [2], want: 0.4 },
    {
      name: 'untracked pids ignored',
      start: [
        [1, 0],
        [3, 0],
      ],
      end: [
        [1, 100],
        [3, 900],
      ],
      pids: [1],
      want: 1,
    },
    { name: 'never sampled', start: [], end: [], pids: [9], want: 0 },
    {
      name: 'pid reused: counter went down, counts from zero',
      start: [[4, 500]],
      end: [[4, 20]],
      pids: [4],
      want: 0.2,
    },
    { name: 'a pid listed twice counts once', start: [[1, 0]], end: [[1, 100]], pids: [1, 1], want: 1 },
    {
      name: 'a group',
      start: [
        [1, 10],
        [2, 20],
      ],
      end: [
        [1, 110],
        [2, 70],
        [5, 50],
      ],
      pids: [1, 2, 5],
      want: 2,
    },
  ];
  for (const c of cases)
    assert.equal(cpuSeconds(new Map(c.start), new Map(c.end), c.pids, 100), c.want, c.name);
});

void test('perWager: seconds per 10,000 wagers and µs per wager', () => {
  const cases: { seconds: number; wagers: number; want: ReturnType<typeof perWager> }[] = [
    { seconds: 1, wagers: 10_000, want: { cpuSecondsPer10k: 1, cpuUsPerWager: 100 } },
    { seconds: 2.13, wagers: 100_000, want: { cpuSecondsPer10k: 0.213, cpuUsPerWager: 21.3 } },
    { seconds: 0, wagers: 5, want: { cpuSecondsPer10k: 0, cpuUsPerWager: 0 } },
    { seconds: 3, wagers: 0, want: { cpuSecondsPer10k: 0, cpuUsPerWager: 0 } },
  ];
  for (const c of cases) assert.deepEqual(perWager(c.seconds, c.wagers), c.want, `${c.seconds}/${c.wagers}`);
});

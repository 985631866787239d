/**
 * infra/monitoring and infra/k8s against the services they watch and run:
 *
 * - every metric the alert rules and the Grafana dashboard name is one the services export:
 *   the gateway, an aggregator and the projector run as real processes on the real broker and
 *   database, take a little traffic (wagers, a bad one, a refused request, an SSE stream), and
 *   their `GET /metrics` is scraped; label matchers must name labels those series carry;
 * - the rules are well formed (severity, summary, description, `for`), pass `promtool check
 *   rules`, and fire, or stay quiet, on synthetic series (`promtool test rules`);
 * - docker-compose.yml mounts files that exist, Prometheus scrapes every service on its port,
 *   Grafana gets the data source the dashboard names;
 * - each kustomize overlay builds (`kubectl kustomize`), every Deployment has probes on the
 *   health endpoints and resources, and KEDA's ScaledObject scales the aggregators' group on the
 *   wager topic up to its partition count.
 *
 * promtool (Debian's `prometheus` package) is optional: without it those two checks are skipped
 * with a message. kubectl is required under CI (it is on these machines), optional elsewhere.
 *
 * Organised as: the static checks first (selector finder, rules, promtool, dashboard, compose,
 * kustomize overlays), then the one slow test that runs the services and scrapes them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { PINNED_KAFKA_VERSION } from '../../infra/kafka-jars.js';
import { REPO_ROOT } from '../../infra/paths.js';
import { wagerPartitionsFromEnv } from '../../infra/topics.js';
import { loadConfig as loadAggregatorConfig } from '../../services/aggregator/src/config.js';
import { loadIngestConfig } from '../../services/ingest/src/config.js';
import { loadProjectorConfig } from '../../services/projector/src/config.js';
import { createApiKey } from '../../shared/src/api-keys.js';
import { TOPICS } from '../../shared/src/kafka.js';
import { createTestDatabase } from '../helpers/db.js';
import { eventually, wager } from '../helpers/fixtures.js';
import { kafkaForTests, randomGroupId, randomTopic } from '../helpers/kafka.js';
import { exposedSeries, promqlSelectors, type Selector } from '../helpers/metrics.js';
import { startServiceProcess } from '../helpers/processes.js';

// Before the first test: a top-level await after a test has started lets the root's `after` hooks
// (the Kafka helpers' cleanup) run before the tests registered later, whose clients then stay open.
const db = await createTestDatabase();
const MONITORING = join(REPO_ROOT, 'infra', 'monitoring');
const K8S = join(REPO_ROOT, 'infra', 'k8s');
const SERVICES = ['ingest', 'aggregator', 'projector'] as const;
type Service = (typeof SERVICES)[number];
const PORT_ENV: Record<Service, string> = {
  ingest: 'INGEST_PORT',
  aggregator: 'AGGREGATOR_PORT',
  projector: 'PROJECTOR_PORT',
};

type Yaml = Record<string, unknown>;
const readYaml = (path: string): Yaml => parse(readFileSync(path, 'utf8')) as Yaml;
const obj = (v: unknown): Yaml => (typeof v === 'object' && v !== null ? (v as Yaml) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
const rulesFile = join(MONITORING, 'prometheus', 'alerts.yml');
const rules: Rule[] = arr(readYaml(rulesFile)['groups']).flatMap((g) => arr(obj(g)['rules']) as Rule[]);
const recorded = new Set(rules.flatMap((r) => (r.record === undefined ? [] : [r.record])));

interface Panel {
  readonly title?: string;
  readonly type?: string;
  readonly datasource?: { uid?: string };
  readonly gridPos?: { x: number; y: number; w: number; h: number };
  readonly targets?: { expr?: string; refId?: string; datasource?: { uid?: string } }[];
  readonly panels?: Panel[];
}
const dashboardFile = join(MONITORING, 'grafana', 'dashboards', 'jackpot-pipeline.json');
const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { uid: string; panels: Panel[] };
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Every PromQL expression of the rules and the dashboard, with where it is. */
const expressions: { where: string; expr: string }[] = [
  ...rules.map((r) => ({ where: `alerts.yml ${r.alert ?? r.record}`, expr: r.expr })),
  ...panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `dashboard "${p.title}" ${t.refId}`, expr: t.expr ?? '' })),
  ),
];

/** Series Prometheus makes itself, not the services. */
const PROMETHEUS_MADE = new Set(['up']);

/**
 * Counters that appear on /metrics only once something has happened that this test does not
 * cause (a window failing or retried, a connection refused by the HTTP limits, the gateway
 * overloaded): they must at least be declared as instruments in the services' code under the
 * name the exporter would give them.
 */
const ONLY_AFTER_AN_INCIDENT = new Set([
  'jackpot_aggregator_batch_failures_total',
  'jackpot_aggregator_batch_retries_total',
  'jackpot_aggregator_batch_splits_total',
  'http_server_refusals_total',
  'ingest_wagers_overloaded_total',
]);

/** The Prometheus series names of every instrument created in services/ and shared/. */
function declaredSeries(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/create(\w+)\(\s*'([\w.]+)'/g)) {
          const [, kind = '', otel = ''] = m;
          const base = otel.replace(/\./g, '_');
          if (kind === 'Counter' || kind === 'ObservableCounter') out.add(`${base}_total`);
          else if (kind === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(base + s);
          else if (/Gauge|UpDownCounter/.test(kind)) out.add(base);
        }
      }
    }
  };
  walk(join(REPO_ROOT, 'services'));
  walk(join(REPO_ROOT, 'shared', 'src'));
  return out;
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

void test('the selector finder sees the series and labels of PromQL expressions, and of an exposition', () => {
  const cases: [string, [string, string[]][]][] = [
    ['up', [['up', []]]],
    ['up{job="x"} == 0', [['up', ['job']]]],
    [
      'sum by (le, phase) (rate(a_bucket{phase!~"a|b", job="x"}[$__rate_interval]))',
      [['a_bucket', ['phase', 'job']]],
    ],
    [
      'a:b:sum > 5 and on () sum(rate(c_total[5m])) == 0',
      [
        ['a:b:sum', []],
        ['c_total', []],
      ],
    ],
    [
      'max by (job) (a) > max by (job) (b) + 150 * 1024 * 1024',
      [
        ['a', []],
        ['b', []],
      ],
    ],
    ['absent(up{job="aggregator"} == 1)', [['up', ['job']]]],
    ['avg_over_time(held[10m:1m]) > 0.5', [['held', []]]],
    [
      'x offset 5m / ignoring (a) group_left (b) y',
      [
        ['x', []],
        ['y', []],
      ],
    ],
    ['rate(x{a="{not a brace}"}[1m])', [['x', ['a']]]],
    ['histogram_quantile(0.95, sum by (le) (rate(d_bucket[5m]))) > 1e-3', [['d_bucket', []]]],
  ];
  for (const [expr, want] of cases) {
    assert.deepEqual(
      promqlSelectors(expr).map((s) => [s.metric, s.labels.map((l) => l.name)]),
      want,
      expr,
    );
  }
  assert.deepEqual(promqlSelectors('x{job="ingest"}')[0]?.labels, [
    { name: 'job', op: '=', value: 'ingest' },
  ]);
  assert.throws(() => promqlSelectors('{__name__=~"x.*"}'), /without a metric name/);
  assert.deepEqual(
    [...exposedSeries('# TYPE a counter\na_total{x="1",y="a\\"b,z=\\"c"} 3\nb 1\n')].map(([n, l]) => [
      n,
      [...l],
    ]),
    [
      ['a_total', ['x', 'y']],
      ['b', []],
    ],
  );
});

void test('alert rules: each has a duration, a severity, a summary and a description', () => {
  const alerts = rules.filter((r) => r.alert !== undefined);
  assert.ok(alerts.length >= 15, `${alerts.length} alerts`);
  const names = alerts.map((r) => r.alert);
  assert.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const r of alerts) {
    assert.match(r.for ?? '', /^\d+[smh]$/, `${r.alert}: for`);
    assert.ok(['critical', 'warning', 'info'].includes(r.labels?.['severity'] ?? ''), `${r.alert}: severity`);
    assert.ok((r.annotations?.['summary'] ?? '').length > 10, `${r.alert}: summary`);
    assert.ok((r.annotations?.['description'] ?? '').length > 40, `${r.alert}: description`);
  }
  // The list: lag growing, gateway p95 over 50 ms, error rates, memory, pool use over 80 %,
  // dead-letter rate.
  const exprOf = (name: string) => alerts.find((r) => r.alert === name)?.expr ?? '';
  assert.match(exprOf('JackpotConsumerLagGrowing'), /deriv\(/);
  assert.match(
    exprOf('JackpotGatewayLatencyHigh'),
    /histogram_quantile\(0\.95,[\s\S]*job="ingest"[\s\S]*> 0\.05/,
  );
  assert.match(exprOf('JackpotDbPoolSaturated'), /> 0\.8$/);
  for (const name of ['JackpotHttpServerErrors', 'JackpotWindowFailures', 'JackpotWagersRejected'])
    assert.ok(exprOf(name) !== '', name);
  assert.match(exprOf('JackpotDeadLetterRate'), /dead_letters_total/);
  assert.match(exprOf('JackpotRssOverContainerPlan'), /process_memory_usage/);
});

const promtool = which('promtool');
const noPromtool = promtool
  ? false
  : 'promtool not found (Debian: apt-get install prometheus); the rules are still parsed';

void test('promtool accepts the rules and the compose scrape configuration', { skip: noPromtool }, () => {
  const check = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  // prometheus.yml names the rules at their path in the container: check it beside a copy.
  const dir = mkdtempSync(join(tmpdir(), 'jackpot-prom-'));
  try {
    const config = readYaml(join(MONITORING, 'prometheus', 'prometheus.yml'));
    writeFileSync(join(dir, 'alerts.yml'), readFileSync(rulesFile));
    writeFileSync(join(dir, 'prometheus.yml'), stringify({ ...config, rule_files: ['alerts.yml'] }));
    const res = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stdout + res.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** One `promtool test rules` case: these series, this alert at this time, these firing label sets. */
interface AlertCase {
  readonly name: string;
  readonly series: Record<string, string>;
  readonly alert: string;
  readonly at: string;
  readonly firing: Record<string, string>[];
}
const lag = (partition: number, replica: string) =>
  `jackpot_aggregator_consumer_lag{job="aggregator",instance="${replica}:8090",topic="w",partition="${partition}",replica="${replica}"}`;
const gateway = (le: string) =>
  `http_server_request_duration_bucket{job="ingest",instance="i:8080",http_route="/v1/wagers",http_request_method="POST",http_response_status_code="202",le="${le}"}`;
const ALERT_CASES: AlertCase[] = [
  {
    name: 'a backlog growing by 5,000 a minute',
    series: { [lag(0, 'a')]: '0+5000x40' },
    alert: 'JackpotConsumerLagGrowing',
    at: '30m',
    firing: [{ severity: 'warning', topic: 'w' }],
  },
  {
    name: 'a partition reported by the replica that lost it is counted once',
    series: { [lag(0, 'a')]: '0+2000x40', [lag(0, 'b')]: '0+2000x40', [lag(1, 'b')]: '0+2000x40' },
    alert: 'JackpotConsumerLagGrowing',
    at: '20m',
    // Two partitions: over 50,000 from 13 m, firing from 23 m. Counting partition 0 twice would
    // cross at 9 m and fire by 20 m.
    firing: [],
  },
  {
    name: 'a large backlog that does not grow',
    series: { [lag(0, 'a')]: '100000x40' },
    alert: 'JackpotConsumerLagGrowing',
    at: '30m',
    firing: [],
  },
  {
    name: 'wagers wait and none is applied',
    series: {
      [lag(0, 'a')]: '1000x20',
      'jackpot_aggregator_wagers_total{job="aggregator",instance="a:8090",outcome="applied"}': '500x20',
    },
    alert: 'JackpotAggregatorsStalled',
    at: '15m',
    firing: [{ severity: 'critical', topic: 'w' }],
  },
  {
    name: 'wagers wait and are being applied',
    series: {
      [lag(0, 'a')]: '1000x20',
      'jackpot_aggregator_wagers_total{job="aggregator",instance="a:8090",outcome="applied"}': '0+600x20',
    },
    alert: 'JackpotAggregatorsStalled',
    at: '15m',
    firing: [],
  },
  {
    name: 'gateway p95 between 50 and 100 ms',
    series: { [gateway('0.05')]: '0+10x30', [gateway('0.1')]: '0+100x30', [gateway('+Inf')]: '0+100x30' },
    alert: 'JackpotGatewayLatencyHigh',
    at: '25m',
    firing: [{ severity: 'warning', http_route: '/v1/wagers' }],
  },
  {
    name: 'gateway p95 under 50 ms',
    series: { [gateway('0.05')]: '0+99x30', [gateway('0.1')]: '0+100x30', [gateway('+Inf')]: '0+100x30' },
    alert: 'JackpotGatewayLatencyHigh',
    at: '25m',
    firing: [],
  },
  {
    name: 'every connection of a pool in use',
    series: {
      'db_client_connections_usage{job="aggregator",instance="a:8090",pool="main",state="used"}': '4x20',
      'db_client_connections_usage{job="aggregator",instance="a:8090",pool="main",state="idle"}': '0x20',
      'db_client_connections_max{job="aggregator",instance="a:8090",pool="main"}': '4x20',
    },
    alert: 'JackpotDbPoolSaturated',
    at: '15m',
    firing: [{ severity: 'warning', job: 'aggregator', instance: 'a:8090', pool: 'main' }],
  },
  {
    name: 'three of ten connections in use',
    series: {
      'db_client_connections_usage{job="ingest",instance="i:8080",pool="main",state="used"}': '3x20',
      'db_client_connections_max{job="ingest",instance="i:8080",pool="main"}': '10x20',
    },
    alert: 'JackpotDbPoolSaturated',
    at: '15m',
    firing: [],
  },
  {
    name: 'RSS past the budget plus 150 MB',
    series: {
      'process_memory_usage{job="projector",instance="p:8081"}': '300000000x30',
      'jackpot_memory_budget{job="projector",instance="p:8081"}': '100663296x30',
    },
    alert: 'JackpotRssOverContainerPlan',
    at: '20m',
    firing: [{ severity: 'warning', job: 'projector', instance: 'p:8081' }],
  },
  {
    name: '2 % of consumed wagers dead-lettered',
    series: {
      'jackpot_aggregator_dead_letters_total{job="aggregator",instance="a:8090",reason="malformed_json"}':
        '0+2x30',
      'jackpot_aggregator_wagers_total{job="aggregator",instance="a:8090",outcome="applied"}': '0+100x30',
    },
    alert: 'JackpotDeadLetterRate',
    at: '25m',
    firing: [{ severity: 'warning' }],
  },
  {
    name: 'an aggregator target down',
    series: {
      'up{job="aggregator",instance="a:8090"}': '1 1 0 0 0 0 0',
      'up{job="aggregator",instance="b:8090"}': '1x6',
    },
    alert: 'JackpotTargetDown',
    at: '6m',
    firing: [{ severity: 'critical', job: 'aggregator', instance: 'a:8090' }],
  },
  {
    name: 'an aggregator not ready for 6 minutes, another back after 3',
    series: {
      'jackpot_ready{job="aggregator",instance="a:8090"}': '0x10',
      'jackpot_ready{job="aggregator",instance="b:8090"}': '0 0 0 1 1 1 1 1 1 1 1',
    },
    alert: 'JackpotNotReady',
    at: '6m',
    firing: [{ severity: 'warning', job: 'aggregator', instance: 'a:8090' }],
  },
  {
    name: 'no aggregator at all',
    series: { 'up{job="ingest",instance="i:8080"}': '1x10' },
    alert: 'JackpotNoAggregator',
    at: '5m',
    firing: [{ severity: 'critical' }],
  },
];

void test(
  'the alerts fire on series that should page, and not on those that should not',
  { skip: noPromtool },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'jackpot-prom-test-'));
    try {
      // promtool compares annotations too; these cases are about when an alert fires.
      const doc = readYaml(rulesFile);
      for (const g of arr(doc['groups'])) for (const r of arr(obj(g)['rules'])) delete obj(r)['annotations'];
      writeFileSync(join(dir, 'alerts.yml'), stringify(doc));
      const tests = ALERT_CASES.map((c) => ({
        name: c.name,
        interval: '1m',
        input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: c.at,
            alertname: c.alert,
            exp_alerts: c.firing.map((labels) => ({ exp_labels: labels })),
          },
        ],
      }));
      writeFileSync(join(dir, 'tests.yml'), stringify({ rule_files: ['alerts.yml'], tests }));
      const res = spawnSync('promtool', ['test', 'rules', join(dir, 'tests.yml')], { encoding: 'utf8' });
      assert.equal(res.status, 0, res.stdout + res.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

void test('the dashboard: every panel queries the provisioned data source, none overlap', () => {
  const datasources = readYaml(join(MONITORING, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'));
  const uid = str(obj(arr(datasources['datasources'])[0])['uid']);
  assert.equal(uid, 'prometheus');
  assert.equal(dashboard.uid, 'jackpot-pipeline');
  const graphs = panels.filter((p) => p.type !== 'row');
  assert.ok(graphs.length >= 20, `${graphs.length} panels`);
  const titles = new Set<string>();
  for (const p of graphs) {
    assert.ok(p.title !== undefined && !titles.has(p.title), `panel title ${p.title} given and unique`);
    titles.add(p.title);
    assert.equal(p.datasource?.uid, uid, `${p.title}: data source`);
    assert.ok((p.targets ?? []).length > 0, `${p.title}: at least one query`);
    for (const t of p.targets ?? []) {
      assert.equal(t.datasource?.uid, uid, `${p.title} ${t.refId}: data source`);
      assert.ok((t.expr ?? '').length > 0, `${p.title} ${t.refId}: expression`);
    }
  }
  // What the issue asks the dashboard to show, by the series its panels query.
  const queried = new Set(
    expressions
      .filter((e) => e.where.startsWith('dashboard'))
      .flatMap((e) => promqlSelectors(e.expr).map((s) => s.metric)),
  );
  for (const metric of [
    'ingest_wagers_accepted_total', // throughput
    'jackpot_aggregator_wagers_total',
    'jackpot_aggregator_consumer_lag', // lag per partition
    'jackpot_aggregator_batch_phase_duration_bucket', // window phases
    'http_server_request_duration_bucket', // latency
    'jackpot_aggregator_dead_letters_total', // dead letters by reason
    'projector_cache_requests_total', // cache hit rates
    'db_client_connections_usage', // pool use
    'process_memory_usage', // memory
    'nodejs_eventloop_delay_p99', // event loop
  ])
    assert.ok(queried.has(metric), `the dashboard shows ${metric}`);
  // Grid: 24 columns, no two panels on the same cell.
  const cells = new Map<string, string>();
  for (const p of panels) {
    const g = p.gridPos;
    assert.ok(g !== undefined && g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title}: gridPos`);
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        const other = cells.get(`${x},${y}`);
        assert.equal(other, undefined, `${p.title} overlaps ${other}`);
        cells.set(`${x},${y}`, p.title ?? '');
      }
  }
});

void test('docker-compose.yml wires Prometheus and Grafana to files that exist and to every service', () => {
  const text = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
  assert.match(
    text,
    new RegExp(`^\\s+image: apache/kafka:${PINNED_KAFKA_VERSION.replace(/\./g, '\\.')}$`, 'm'),
  );
  const services = obj(obj(parse(text, { merge: true }))['services']);
  for (const s of ['kafka', 'postgres', 'topics', 'migrate', ...SERVICES, 'prometheus', 'grafana'])
    assert.ok(s in services, `compose service ${s}`);

  /** container path → repository path, for every bind mount of a service; each must exist. */
  const mounts = (service: string): Map<string, string> => {
    const out = new Map<string, string>();
    for (const v of arr(obj(services[service])['volumes'])) {
      const [source = '', target = ''] = str(v).split(':');
      if (!source.startsWith('./')) continue; // a named volume
      const path = join(REPO_ROOT, source);
      assert.ok(existsSync(path), `${service}: ${source} exists`);
      out.set(target, path);
    }
    return out;
  };
  const promMounts = mounts('prometheus');
  const configFlag = arr(obj(services['prometheus'])['command'])
    .map(str)
    .find((a) => a.startsWith('--config.file='));
  const configPath = promMounts.get(configFlag?.slice('--config.file='.length) ?? '');
  assert.equal(configPath, join(MONITORING, 'prometheus', 'prometheus.yml'));
  const prom = readYaml(configPath);
  for (const rf of arr(prom['rule_files']).map(str))
    assert.equal(promMounts.get(rf), rulesFile, `rule file ${rf} is mounted from alerts.yml`);

  // One scrape job per service, named after it, on the port the service listens on.
  const jobs = arr(prom['scrape_configs']).map(obj);
  assert.deepEqual(jobs.map((j) => j['job_name']).sort(), [...SERVICES].sort());
  for (const job of jobs) {
    const service = str(job['job_name']) as Service;
    const port = str(obj(obj(services[service])['environment'])[PORT_ENV[service]]);
    assert.ok(port !== '', `${service} sets ${PORT_ENV[service]}`);
    const targets = [
      ...arr(job['static_configs']).flatMap((c) => arr(obj(c)['targets']).map(str)),
      ...arr(job['dns_sd_configs']).flatMap((c) =>
        arr(obj(c)['names']).map((n) => `${str(n)}:${str(obj(c)['port'])}`),
      ),
    ];
    assert.deepEqual(targets, [`${service}:${port}`], `${service} is scraped on its port`);
  }

  const grafanaMounts = mounts('grafana');
  const provisioning = grafanaMounts.get('/etc/grafana/provisioning') ?? '';
  assert.equal(provisioning, join(MONITORING, 'grafana', 'provisioning'));
  const ds = obj(arr(readYaml(join(provisioning, 'datasources', 'prometheus.yml'))['datasources'])[0]);
  const promPort = str(arr(obj(services['prometheus'])['ports'])[0])
    .split(':')
    .pop();
  assert.equal(ds['url'], `http://prometheus:${promPort}`);
  const provider = obj(arr(readYaml(join(provisioning, 'dashboards', 'jackpot.yml'))['providers'])[0]);
  const dashboards = grafanaMounts.get(str(obj(provider['options'])['path'])) ?? '';
  assert.ok(
    existsSync(join(dashboards, 'jackpot-pipeline.json')),
    'the dashboard folder is mounted where the provider reads',
  );
});

/** `kubectl kustomize` of an overlay, as parsed documents. */
function build(overlay: string): Yaml[] {
  const res = spawnSync('kubectl', ['kustomize', join(K8S, 'overlays', overlay)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.equal(res.status, 0, res.stderr);
  return parseAllDocuments(res.stdout).map((d) => d.toJS() as Yaml);
}

const kubectl = which('kubectl');
const noKubectl =
  !kubectl && !process.env['CI']
    ? 'kubectl not found (needed for `kubectl kustomize`); CI fails here instead'
    : false;

for (const overlay of ['dev', 'prod']) {
  void test(
    `kustomize overlay ${overlay}: probes, resources, config and the KEDA scaler`,
    { skip: noKubectl },
    () => {
      assert.ok(kubectl, 'kubectl is on the CI machines');
      const docs = build(overlay);
      const of = (kind: string) => docs.filter((d) => d['kind'] === kind);
      const name = (d: Yaml) => str(obj(d['metadata'])['name']);

      const configMaps = of('ConfigMap');
      assert.equal(configMaps.length, 1);
      const config = obj(configMaps[0]?.['data']) as Record<string, string>;
      const secrets = new Set(of('Secret').map(name));

      const deployments = of('Deployment');
      const seen = new Set<string>();
      for (const d of deployments) {
        const spec = obj(obj(obj(d['spec'])['template'])['spec']);
        const [c, ...more] = arr(spec['containers']).map(obj);
        assert.ok(c !== undefined && more.length === 0, `${name(d)}: one container`);
        const env = new Map(arr(c['env']).map((e) => [str(obj(e)['name']), obj(e)]));
        const service = str(env.get('SERVICE')?.['value']) as Service;
        assert.ok(SERVICES.includes(service), `${name(d)}: SERVICE`);
        seen.add(service);
        assert.ok(existsSync(join(REPO_ROOT, 'services', service, 'src', 'main.ts')));
        const port = arr(c['ports'])
          .map(obj)
          .find((p) => p['name'] === 'http');
        assert.equal(
          str(port?.['containerPort']),
          str(env.get(PORT_ENV[service])?.['value']),
          `${name(d)}: port`,
        );
        const probe = (kind: string, path: string) => {
          const get = obj(obj(c[kind])['httpGet']);
          assert.deepEqual([get['path'], get['port']], [path, 'http'], `${name(d)}: ${kind}`);
        };
        probe('readinessProbe', '/readyz');
        probe('livenessProbe', '/healthz');
        probe('startupProbe', '/healthz');
        const resources = obj(c['resources']);
        const mib = (q: unknown) => {
          const m = /^(\d+)(Mi|Gi)$/.exec(str(q));
          assert.ok(m !== null, `${name(d)}: memory quantity ${str(q)}`);
          return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
        };
        const request = mib(obj(resources['requests'])['memory']);
        const limit = mib(obj(resources['limits'])['memory']);
        assert.ok(str(obj(resources['requests'])['cpu']) !== '', `${name(d)}: cpu request`);
        assert.ok(request >= 100 && request <= limit, `${name(d)}: memory request ${request} Mi`);
        // README: the budget goes under the container's limit minus ~150 MB.
        const budget = Number(config[`${service.toUpperCase()}_MEMORY_BUDGET_MB`]);
        assert.ok(
          budget > 0 && (budget + 150) * 1e6 <= limit * 2 ** 20,
          `${name(d)}: budget ${budget} MB, limit ${limit} Mi`,
        );
        const heap = /--max-old-space-size=(\d+)/.exec(str(env.get('NODE_OPTIONS')?.['value']));
        assert.ok(heap !== null && Number(heap[1]) < limit, `${name(d)}: V8 heap under the limit`);
        assert.ok(Number(spec['terminationGracePeriodSeconds']) >= 30, `${name(d)}: 30 s to finish`);
        const configRef = arr(c['envFrom']).map((e) => str(obj(obj(e)['configMapRef'])['name']));
        assert.ok(configRef.includes(name(configMaps[0] ?? {})), `${name(d)}: reads the ConfigMap`);
        const secretRef = str(obj(obj(env.get('DATABASE_URL')?.['valueFrom'])['secretKeyRef'])['name']);
        assert.ok(secretRef !== '', `${name(d)}: DATABASE_URL from a Secret`);
        if (overlay === 'dev')
          assert.ok(secrets.has(secretRef), `${name(d)}: the dev overlay makes ${secretRef}`);
        const labels = obj(obj(obj(d['spec'])['template'])['metadata'])['labels'];
        assert.ok(
          of('PodDisruptionBudget').some((p) => {
            const want = obj(obj(obj(p['spec'])['selector'])['matchLabels']);
            return Object.entries(want).every(([k, v]) => obj(labels)[k] === v);
          }),
          `${name(d)}: a PodDisruptionBudget`,
        );
      }
      assert.deepEqual([...seen].sort(), [...SERVICES].sort());

      for (const j of of('Job')) {
        const c = obj(arr(obj(obj(obj(j['spec'])['template'])['spec'])['containers'])[0]);
        const script =
          arr(c['command'])
            .map(str)
            .find((a) => a.startsWith('dist/')) ?? '';
        assert.ok(
          existsSync(join(REPO_ROOT, script.replace(/^dist\//, '').replace(/\.js$/, '.ts'))),
          `${name(j)}: ${script}`,
        );
        assert.ok(obj(c['resources'])['limits'] !== undefined, `${name(j)}: resources`);
      }
      assert.deepEqual(of('Job').map(name).sort(), ['jackpot-migrate', 'jackpot-topics']);

      const aggregator = deployments.find((d) => name(d) === 'jackpot-aggregator');
      assert.ok(aggregator !== undefined);
      assert.equal(obj(aggregator['spec'])['replicas'], undefined, 'KEDA owns the aggregator replica count');
      const [scaled, ...others] = of('ScaledObject');
      assert.ok(scaled !== undefined && others.length === 0);
      const spec = obj(scaled['spec']);
      assert.equal(obj(spec['scaleTargetRef'])['name'], 'jackpot-aggregator');
      const [trigger, ...moreTriggers] = arr(spec['triggers']).map(obj);
      assert.ok(trigger !== undefined && moreTriggers.length === 0);
      assert.equal(trigger['type'], 'kafka');
      const meta = obj(trigger['metadata']);
      // The Kafka security settings need the Secrets and the CA file of a real cluster; they are
      // compared with KEDA's below.
      const plain = Object.fromEntries(Object.entries(config).filter(([k]) => !/^KAFKA_(SSL|SASL)/.test(k)));
      const aggregatorConfig = loadAggregatorConfig(plain);
      // Every service starts with this ConfigMap (each validates its variables at start).
      loadIngestConfig(plain);
      loadProjectorConfig(plain);
      assert.equal(meta['consumerGroup'], aggregatorConfig.groupId, 'the group the aggregators join');
      assert.equal(meta['consumerGroup'], 'jackpot-aggregator');
      assert.equal(meta['topic'], aggregatorConfig.topic);
      assert.equal(meta['topic'], TOPICS.wagers);
      assert.equal(meta['bootstrapServers'], config['KAFKA_BROKERS'], 'the brokers the services use');
      assert.ok(Number(meta['lagThreshold']) > 0);
      // A replica beyond the partition count would own no partition.
      const partitions = wagerPartitionsFromEnv({ ...config });
      assert.equal(partitions, wagerPartitionsFromEnv({}), 'the ConfigMap keeps the default partition count');
      assert.equal(spec['maxReplicaCount'], partitions);
      assert.ok(Number(spec['minReplicaCount']) >= 1 && Number(spec['minReplicaCount']) <= partitions);
      const auth = str(obj(trigger['authenticationRef'])['name']);
      if (auth !== '')
        assert.ok(
          of('TriggerAuthentication').some((t) => name(t) === auth),
          `TriggerAuthentication ${auth}`,
        );
      // KEDA reads the offsets the way the services connect.
      const sasl = { 'SCRAM-SHA-256': 'scram_sha256', 'SCRAM-SHA-512': 'scram_sha512' }[
        config['KAFKA_SASL_MECHANISM'] ?? ''
      ];
      assert.equal(meta['sasl'], sasl, "KEDA uses the services' SASL mechanism");
      assert.equal(
        meta['tls'],
        config['KAFKA_SSL'] === 'true' ? 'enable' : undefined,
        'and TLS when they do',
      );
      if (sasl !== undefined) assert.ok(auth !== '', 'with credentials');

      // The Kubernetes scrape jobs find these pods by their name label and their `http` port.
      const k8sScrape = readYaml(join(MONITORING, 'prometheus', 'prometheus-kubernetes.yml'));
      for (const job of arr(k8sScrape['scrape_configs']).map(obj)) {
        const keep = arr(job['relabel_configs'])
          .map(obj)
          .find((r) =>
            arr(r['source_labels']).includes('__meta_kubernetes_pod_label_app_kubernetes_io_name'),
          );
        const d = deployments.find((x) => name(x) === str(keep?.['regex']));
        assert.ok(d !== undefined, `scrape job ${str(job['job_name'])} finds a Deployment`);
        const service = str(
          arr(obj(arr(obj(obj(obj(d['spec'])['template'])['spec'])['containers'])[0])['env'])
            .map(obj)
            .find((e) => e['name'] === 'SERVICE')?.['value'],
        );
        assert.equal(job['job_name'], service, 'the job is named after the service, as alerts.yml expects');
      }
    },
  );
}

/** Scrapes a service's /metrics. */
async function scrape(port: number): Promise<Map<string, Set<string>>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return exposedSeries(await res.text());
}

void test(
  'every metric the rules and the dashboard use is one the services export',
  { timeout: 240_000 },
  async () => {
    const topics = {
      AGGREGATOR_TOPIC: await randomTopic('mon-wagers', 2),
      POOL_UPDATES_TOPIC: await randomTopic('mon-updates', 1),
      DLQ_TOPIC: await randomTopic('mon-dlq', 1),
      AWARDS_TOPIC: await randomTopic('mon-awards', 1),
    };
    const env = {
      DATABASE_URL: db.url,
      ...topics,
      INGEST_TOPIC: topics.AGGREGATOR_TOPIC,
      PROJECTOR_TOPIC: topics.POOL_UPDATES_TOPIC,
      AGGREGATOR_GROUP_ID: randomGroupId('mon'),
      // A second request of 1,000 wagers is throttled (429), and a second SSE stream refused.
      INGEST_RATE_LIMIT_PER_SECOND: '1',
      INGEST_RATE_LIMIT_BURST: '1000',
      PROJECTOR_SSE_MAX_CLIENTS: '1',
    };
    const procs = {
      ingest: await startServiceProcess('ingest', env),
      aggregator: await startServiceProcess('aggregator', env),
      projector: await startServiceProcess('projector', env),
    };
    await Promise.all(Object.values(procs).map((p) => p.waitReady(90_000)));

    const admin = (await createApiKey(db.pool, { role: 'admin', name: 'mon-admin' })).key;
    const game = (await createApiKey(db.pool, { role: 'game', name: 'mon-game', jackpots: 'all' })).key;
    const gateway = `http://127.0.0.1:${procs.ingest.port}`;
    const post = (path: string, body: unknown, key?: string) =>
      fetch(`${gateway}${path}`, {
        method: path.startsWith('/v1/admin') ? 'PUT' : 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify(body),
      });
    let res = await post(
      '/v1/admin/jackpots/mon',
      {
        currency: 'EUR',
        pools: [{ tier: 'mini', seedMinor: 100, contributionPpm: 10_000 }],
        games: ['mon-g'],
      },
      admin,
    );
    assert.equal(res.status, 200, await res.text());
    assert.equal((await post('/v1/wagers', { wagers: [wager({ gameId: 'mon-g' })] })).status, 401);
    res = await post('/v1/wagers', { wagers: [wager({ gameId: 'mon-g' }), { eventId: 'not-a-uuid' }] }, game);
    assert.equal(res.status, 202, await res.text());
    // The bucket (1,000, refilled at 1 a second) cannot take two full requests in a row.
    const statuses: number[] = [];
    for (let i = 0; i < 2 && !statuses.includes(429); i++) {
      const many = Array.from({ length: 1000 }, () => wager({ gameId: 'mon-g' }));
      statuses.push((await post('/v1/wagers', { wagers: many }, game)).status);
    }
    assert.ok(statuses.includes(429), `throttled: ${statuses.join(', ')}`);
    // A wager the aggregator must dead-letter.
    const producer = kafkaForTests().producer();
    await producer.connect();
    await producer.send({ topic: topics.AGGREGATOR_TOPIC, messages: [{ key: 'k', value: 'not json' }] });
    assert.ok(
      await eventually(async () => {
        const r = await db.pool.query<{ dead: number; applied: number }>(
          `SELECT (SELECT count(*) FROM jackpot.dead_letters)::int AS dead,
                  (SELECT count(*) FROM jackpot.contributions)::int AS applied`,
        );
        return r.rows[0]?.dead === 1 && (r.rows[0]?.applied ?? 0) >= 1;
      }, 60_000),
      `the wager applied and the bad one dead-lettered:\n${procs.aggregator.output().slice(-2000)}`,
    );

    // One display on the SSE stream, a second one turned away.
    const stream = new AbortController();
    try {
      const first = await fetch(`http://127.0.0.1:${procs.projector.port}/v1/pools/stream`, {
        signal: stream.signal,
      });
      assert.equal(first.status, 200);
      void first.body
        ?.getReader()
        .read()
        .catch(() => undefined);
      const second = await fetch(`http://127.0.0.1:${procs.projector.port}/v1/pools/stream`);
      assert.equal(second.status, 503);
      await second.body?.cancel();

      const declared = declaredSeries();
      const used = expressions.flatMap(({ where, expr }) =>
        promqlSelectors(expr).map((s) => ({ where, ...s })),
      );
      let exported = new Map<Service, Map<string, Set<string>>>();
      const problems = (selectors = used): string[] => {
        const all = new Map<string, Set<string>>();
        for (const series of exported.values())
          for (const [n, labels] of series) all.set(n, new Set([...(all.get(n) ?? []), ...labels]));
        const out: string[] = [];
        for (const s of selectors) {
          if (recorded.has(s.metric) || PROMETHEUS_MADE.has(s.metric)) continue;
          const labels = all.get(s.metric);
          if (labels === undefined) {
            if (ONLY_AFTER_AN_INCIDENT.has(s.metric) && declared.has(s.metric)) continue;
            out.push(`${s.where}: ${s.metric} is not exported`);
            continue;
          }
          out.push(...labelProblems(s, labels, exported).map((p) => `${s.where}: ${p}`));
        }
        return [...new Set(out)];
      };
      // Gauges such as the lag are observed once the consumer has its partitions: scrape until every
      // name is there, or report what is still missing.
      await eventually(
        async () => {
          exported = new Map(
            await Promise.all(SERVICES.map(async (s) => [s, await scrape(procs[s].port)] as const)),
          );
          return problems().length === 0;
        },
        30_000,
        1_000,
      );
      assert.deepEqual(problems(), []);
      // The check itself: a misspelt name, a label the series lacks, a series of another job.
      const wrong = [
        'rate(jackpot_aggregator_wager_total[5m])',
        'jackpot_aggregator_dead_letters_total{cause="x"}',
        'ingest_wagers_accepted_total{job="aggregator"}',
        'jackpot_aggregator_batch_failure_total', // not declared either
      ].flatMap((expr) => promqlSelectors(expr).map((sel) => ({ where: 'probe', ...sel })));
      assert.equal(problems(wrong).length, wrong.length, problems(wrong).join('\n'));
    } finally {
      stream.abort();
      await producer.disconnect();
      for (const p of Object.values(procs)) p.child.kill('SIGTERM');
      await Promise.all(Object.values(procs).map((p) => p.exited()));
    }
  },
);

/** Label matchers must name labels the series has (`job` and `instance` are Prometheus'). */
function labelProblems(
  s: Selector,
  labels: Set<string>,
  exported: Map<Service, Map<string, Set<string>>>,
): string[] {
  const out: string[] = [];
  for (const l of s.labels) {
    if (l.name === 'job') {
      if (l.op === '=' && !exported.get(l.value as Service)?.has(s.metric))
        out.push(`${s.metric} is not exported by job ${l.value}`);
      continue;
    }
    if (l.name !== 'instance' && !labels.has(l.name)) out.push(`${s.metric} has no label ${l.name}`);
  }
  return out;
}

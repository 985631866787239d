/**
 * OpenTelemetry for every service. Metrics are read by Prometheus from the service's own
 * `GET /metrics` (no second port); every service also exports its heap, RSS, event-loop delay
 * (here) and its Postgres pools' use (shared/src/db.ts). Traces are off unless
 * `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`), configured by the standard
 * `OTEL_*` variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_SAMPLER`,
 * `OTEL_TRACES_SAMPLER_ARG`, `OTEL_PROPAGATORS`); off, no tracer provider is registered and
 * every span is the API's no-op.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { metrics, type BatchObservableResult, type Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type * as SdkNode from '@opentelemetry/sdk-node';
import type { tracing } from '@opentelemetry/sdk-node';

export interface Telemetry {
  readonly meter: Meter;
  /** Writes the Prometheus text exposition of every metric. */
  handleMetrics(req: IncomingMessage, res: ServerResponse): void;
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /**
   * Spans go to this exporter, one at a time as they end, instead of `OTEL_TRACES_EXPORTER`'s:
   * tests pass an in-memory one (`tracing.InMemorySpanExporter` of `@opentelemetry/sdk-node`).
   */
  readonly spanExporter?: tracing.SpanExporter;
}

/** Latency buckets in seconds, from 1 ms to 10 s (OpenTelemetry semantic conventions use seconds). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Event-loop delay is sampled every 10 ms by a timer in libuv (perf_hooks): a delay shorter than
 * that is invisible, and the gateway's p95 target is 50 ms, so 10 ms is fine enough.
 */
const EVENT_LOOP_RESOLUTION_MS = 10;
/**
 * The delay gauges cover the last 30 to 60 s (this interval and the one before): every scraper
 * (Prometheus, a second Prometheus, `npm run jackpot -- report`) reads the same figures, which a
 * reset at each scrape would not give, and a stall stays visible for at least 30 s, two scrapes at
 * Prometheus' usual 15 s.
 */
const EVENT_LOOP_WINDOW_MS = 30_000;

/** Unset, empty or `none`: that OpenTelemetry signal is not exported (Prometheus metrics aside). */
function off(name: string): boolean {
  const v = process.env[name]?.trim() ?? '';
  return v === '' || v === 'none';
}

export function startTelemetry(serviceName: string, opts: TelemetryOptions = {}): Telemetry {
  process.env['OTEL_TRACES_EXPORTER'] ??= 'none';
  process.env['OTEL_LOGS_EXPORTER'] ??= 'none';
  process.env['OTEL_SDK_DISABLED'] ??= 'false';
  const exporter = new PrometheusExporter({ preventServerStart: true });
  // The whole SDK (traces, logs, OTLP exporters and their gRPC and protobuf code) is loaded only
  // when something asks for more than the Prometheus metrics: it is ~14 MB of RSS per process
  // (issue 8: every service under 100 MB), ~30 MB against ~16 MB for the metrics SDK alone.
  const lean =
    opts.spanExporter === undefined &&
    off('OTEL_TRACES_EXPORTER') &&
    off('OTEL_LOGS_EXPORTER') &&
    off('OTEL_METRICS_EXPORTER') &&
    (process.env['OTEL_RESOURCE_DETECTORS'] ?? '') === '' &&
    process.env['OTEL_SDK_DISABLED'] === 'false';
  let shutdownSdk: () => Promise<void>;
  if (lean) {
    // What NodeSDK sets up for metrics: the same resource (its default detectors, then the
    // service name) and the one reader, registered as the global meter provider. Otherwise the
    // SDK itself, as before (OTEL_SDK_DISABLED, OTEL_RESOURCE_DETECTORS and the exporters are its).
    const provider = new MeterProvider({
      resource: defaultResource()
        .merge(detectResources({ detectors: [envDetector, processDetector, hostDetector] }))
        .merge(resourceFromAttributes({ 'service.name': serviceName })),
      readers: [exporter],
    });
    metrics.setGlobalMeterProvider(provider);
    shutdownSdk = () => provider.shutdown();
  } else {
    const { NodeSDK, tracing: sdkTracing } = createRequire(import.meta.url)(
      '@opentelemetry/sdk-node',
    ) as typeof SdkNode;
    const sdk = new NodeSDK({
      serviceName,
      metricReader: exporter,
      instrumentations: [],
      ...(opts.spanExporter === undefined
        ? {}
        : { spanProcessors: [new sdkTracing.SimpleSpanProcessor(opts.spanExporter)] }),
    });
    sdk.start();
    shutdownSdk = () => sdk.shutdown();
  }
  const meter = metrics.getMeter(serviceName);
  const stopRuntime = observeRuntime(meter);
  return {
    meter,
    handleMetrics: (req, res) => exporter.getMetricsRequestHandler(req, res),
    shutdown: async () => {
      stopRuntime();
      await shutdownSdk();
    },
  };
}

/**
 * Heap, RSS, CPU time and event-loop delay, read when Prometheus scrapes; between scrapes only the
 * event-loop sampler runs, and a timer every EVENT_LOOP_WINDOW_MS.
 */
function observeRuntime(meter: Meter): () => void {
  const rss = meter.createObservableGauge('process.memory.usage', {
    unit: 'By',
    description: 'Resident set size of the process',
  });
  const heapUsed = meter.createObservableGauge('v8js.memory.heap.used', {
    unit: 'By',
    description: 'V8 heap in use (all spaces)',
  });
  const heapLimit = meter.createObservableGauge('v8js.memory.heap.limit', {
    unit: 'By',
    description: 'V8 heap size limit (--max-old-space-size and the young generation)',
  });
  const delayP99 = meter.createObservableGauge('nodejs.eventloop.delay.p99', {
    unit: 's',
    description: '99th percentile of the event-loop delay over the last 30 to 60 s',
  });
  const delayMax = meter.createObservableGauge('nodejs.eventloop.delay.max', {
    unit: 's',
    description: 'Longest event-loop delay over the last 30 to 60 s',
  });
  // OpenTelemetry's process.cpu.time (seconds, by cpu.mode): Prometheus' process_cpu_time_total,
  // whose rate is the cores the process uses (`npm run jackpot -- report` reads it).
  const cpuTime = meter.createObservableCounter('process.cpu.time', {
    unit: 's',
    description: 'CPU time of the process, by cpu.mode (user, system)',
  });
  const delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  delay.enable();
  // Nanoseconds; 0 before the first sample.
  const current = (): { p99: number; max: number } =>
    delay.count > 0 ? { p99: delay.percentile(99), max: delay.max } : { p99: 0, max: 0 };
  let previous = { p99: 0, max: 0 };
  const roll = setInterval(() => {
    previous = current();
    delay.reset();
  }, EVENT_LOOP_WINDOW_MS);
  roll.unref();
  const callback = (r: BatchObservableResult): void => {
    r.observe(rss, process.memoryUsage.rss());
    const cpu = process.cpuUsage(); // microseconds
    r.observe(cpuTime, cpu.user / 1e6, { 'cpu.mode': 'user' });
    r.observe(cpuTime, cpu.system / 1e6, { 'cpu.mode': 'system' });
    const heap = getHeapStatistics();
    r.observe(heapUsed, heap.used_heap_size);
    r.observe(heapLimit, heap.heap_size_limit);
    // The p99 of two intervals is at most the larger of theirs: an upper bound, as alerts want.
    const now = current();
    r.observe(delayP99, Math.max(now.p99, previous.p99) / 1e9);
    r.observe(delayMax, Math.max(now.max, previous.max) / 1e9);
  };
  const observables = [rss, heapUsed, heapLimit, cpuTime, delayP99, delayMax];
  meter.addBatchObservableCallback(callback, observables);
  return () => {
    meter.removeBatchObservableCallback(callback, observables);
    clearInterval(roll);
    delay.disable();
  };
}

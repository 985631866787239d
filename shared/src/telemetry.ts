/**
 * OpenTelemetry metrics for every service, read by Prometheus from the service's own
 * `GET /metrics` (no second port). Traces are off unless OTEL_TRACES_EXPORTER says otherwise.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics, type Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { NodeSDK } from '@opentelemetry/sdk-node';

export interface Telemetry {
  readonly meter: Meter;
  /** Writes the Prometheus text exposition of every metric. */
  handleMetrics(req: IncomingMessage, res: ServerResponse): void;
  shutdown(): Promise<void>;
}

/** Latency buckets in seconds, from 1 ms to 10 s (OpenTelemetry semantic conventions use seconds). */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function startTelemetry(serviceName: string): Telemetry {
  process.env['OTEL_TRACES_EXPORTER'] ??= 'none';
  process.env['OTEL_LOGS_EXPORTER'] ??= 'none';
  process.env['OTEL_SDK_DISABLED'] ??= 'false';
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const sdk = new NodeSDK({ serviceName, metricReader: exporter, instrumentations: [] });
  sdk.start();
  return {
    meter: metrics.getMeter(serviceName),
    handleMetrics: (req, res) => exporter.getMetricsRequestHandler(req, res),
    shutdown: () => sdk.shutdown(),
  };
}

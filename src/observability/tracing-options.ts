/**
 * The exporter settings in force: the config file first, then the standard
 * OpenTelemetry variables operators already set for every other service
 * (a Kubernetes pod spec, the OpenTelemetry Operator), then our defaults.
 * `OTEL_EXPORTER_OTLP_HEADERS` is merged by the exporter itself, under the
 * headers from the file.
 */
import { DEFAULTS } from '../config/config-defaults.js';
import type { TracingConfig } from '../config/types.js';

export interface TracingOptions {
  readonly endpoint: string;
  readonly timeoutMs: number;
  readonly serviceName: string;
  readonly serviceVersion: string;
}

export function resolveTracingOptions(config: TracingConfig, version: string, env: NodeJS.ProcessEnv = process.env): TracingOptions {
  return {
    endpoint: config.endpoint ?? endpointFromEnv(env) ?? DEFAULTS.tracing.endpoint,
    timeoutMs: config.timeoutMs ?? positiveInt(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT) ?? positiveInt(env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? DEFAULTS.tracing.timeoutMs,
    serviceName: config.serviceName ?? stringAttribute(config.resourceAttributes['service.name']) ?? nonEmpty(env.OTEL_SERVICE_NAME) ?? DEFAULTS.tracing.serviceName,
    serviceVersion: version,
  };
}

/** As the OTLP spec says: the per-signal variable is the full URL; the generic one is a base to which /v1/traces is appended. */
function endpointFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const traces = httpUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (traces) return traces;
  const base = httpUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

function httpUrl(value: string | undefined): string | undefined {
  if (!value?.trim()) return undefined;
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function positiveInt(value: string | undefined): number | undefined {
  const n = value === undefined ? NaN : Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value.trim() : undefined;
}

function stringAttribute(value: string | number | boolean | undefined): string | undefined {
  return typeof value === 'string' && value.trim() ? value : undefined;
}

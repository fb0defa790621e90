/**
 * OpenTelemetry tracing of decisions: one SERVER span per decision, a child
 * of the trace the request already belongs to (W3C `traceparent`/`tracestate`
 * or B3 `x-b3-*`/`b3` headers, which Envoy forwards in the CheckRequest),
 * exported in batches over OTLP/HTTP.
 *
 * Off by default. `createDecisionTracer` then returns undefined without
 * loading any SDK module (every import below is type-only or dynamic), so
 * the decision path pays one `if` and memory is unchanged. When on, nothing
 * here can change a decision: span calls never throw into the caller, and
 * export runs in the background, bounded by a queue that drops spans when
 * the collector is away (see tracing-failures.ts for how that is logged).
 */
import type { Context, Span, TextMapGetter } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { maskUrl } from '../config/mask-config.js';
import type { Config, TracingConfig } from '../config/types.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { decisionAttributes, decisionResult, requestAttributes, routeTemplatesOf } from './tracing-attributes.js';
import { createExportFailureLog, type ExportFailureLog } from './tracing-failures.js';
import { resolveTracingOptions } from './tracing-options.js';

export const DECISION_SPAN_NAME = 'kestra-authz Check';
const INSTRUMENTATION_SCOPE = 'kestra-authz';

/** An open decision span; opaque to callers. */
export type DecisionSpan = Span;

export interface DecisionTracer {
  /**
   * Opens the span. The parent comes from `callHeaders` when given and they
   * carry a trace context (e.g. a door's own call metadata), else from the
   * request's headers; none = a new trace, sampled at `sampler.ratio`.
   */
  startDecision(req: AuthRequest, door: string, callHeaders?: Readonly<Record<string, string>>): DecisionSpan | undefined;
  endDecision(span: DecisionSpan | undefined, req: AuthRequest, decision: Decision): void;
  /** Exports what is queued (tests, shutdown). Never rejects. */
  flush(): Promise<void>;
  /** Flushes and stops the exporter, bounded by the export timeout. Never rejects. */
  shutdown(): Promise<void>;
  /** Where spans go (password in the URL masked), for the startup log. */
  readonly endpoint: string;
}

export interface DecisionTracerOptions {
  /** service.version. */
  readonly version?: string;
  /** The config of the engine deciding now: rule ids → route templates. */
  readonly currentConfig: () => Config;
}

/** Header names are lower-case in an AuthRequest; only the propagators' own headers are ever read. */
const HEADER_GETTER: TextMapGetter<Readonly<Record<string, string>>> = {
  get: (carrier, key) => carrier[key],
  keys: () => [],
};

export async function createDecisionTracer(
  config: TracingConfig,
  logger: Logger,
  options: DecisionTracerOptions,
): Promise<DecisionTracer | undefined> {
  if (!config.enabled) return undefined;

  const [api, core, sdk, b3, resources, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/propagator-b3'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const settings = resolveTracingOptions(config, options.version ?? 'dev', process.env);
  const endpoint = maskUrl(settings.endpoint);
  const failures = createExportFailureLog(logger, endpoint);

  const exporter = reportingExporter(
    new otlp.OTLPTraceExporter({ url: settings.endpoint, headers: { ...config.exportHeaders }, timeoutMillis: settings.timeoutMs }),
    failures,
    core.ExportResultCode.SUCCESS,
  );
  const resource = resources
    .defaultResource()
    .merge(resources.detectResources({ detectors: [resources.envDetector] }))
    .merge(resources.resourceFromAttributes({
      ...config.resourceAttributes,
      'service.name': settings.serviceName,
      'service.version': settings.serviceVersion,
    }));
  const provider = new sdk.BasicTracerProvider({
    resource,
    // Envoy's sampling decision (the parent's sampled flag) wins; the ratio applies to traces we start.
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(config.samplerRatio) }),
    spanProcessors: [
      // Queue, batch size and delay: the SDK defaults or OTEL_BSP_*. The exporter's own timeout
      // (retries included) ends first, so its failure is the one reported.
      new sdk.BatchSpanProcessor(exporter, { exportTimeoutMillis: settings.timeoutMs + 1_000 }),
    ],
  });
  // Not registered globally: only this module makes spans, and it passes contexts explicitly.
  const tracer = provider.getTracer(INSTRUMENTATION_SCOPE, settings.serviceVersion);
  // B3 first, W3C last: when a request carries both, the W3C context (extracted last) is the parent.
  const propagator = new core.CompositePropagator({ propagators: [new b3.B3Propagator(), new core.W3CTraceContextPropagator()] });
  const parentOf = (headers: Readonly<Record<string, string>>): Context =>
    propagator.extract(api.ROOT_CONTEXT, headers, HEADER_GETTER);
  const hasParent = (ctx: Context): boolean => api.trace.getSpanContext(ctx) !== undefined;
  const includeUser = config.includeUser;
  const SERVER = api.SpanKind.SERVER;
  const ERROR = api.SpanStatusCode.ERROR;

  logger.info({ endpoint, sampler: `parentbased_traceidratio(${config.samplerRatio})`, service: settings.serviceName }, 'tracing on: exporting decision spans over OTLP/HTTP');

  // The SDK does not throw from span calls; if it ever did, say so once and carry on deciding.
  let spanErrorLogged = false;
  const spanError = (err: unknown): void => {
    if (spanErrorLogged) return;
    spanErrorLogged = true;
    logger.warn({ err: err instanceof Error ? { name: err.name, message: err.message } : { message: String(err) } },
      'tracing: a decision span could not be recorded; decisions are not affected');
  };

  let shutdownOnce: Promise<void> | undefined;
  return {
    endpoint,
    startDecision(req, door, callHeaders) {
      try {
        let parent = callHeaders ? parentOf(callHeaders) : undefined;
        if (parent === undefined || !hasParent(parent)) parent = parentOf(req.headers);
        return tracer.startSpan(DECISION_SPAN_NAME, { kind: SERVER, attributes: requestAttributes(req, door) }, parent);
      } catch (err) {
        spanError(err);
        return undefined;
      }
    },
    endDecision(span, req, decision) {
      if (span === undefined) return;
      try {
        if (span.isRecording()) {
          span.setAttributes(decisionAttributes(req, decision, routeTemplatesOf(options.currentConfig()), includeUser));
          // A denial is the service working; only a failure to decide (5xx) marks the span as an error.
          if (decisionResult(decision) === 'error') span.setStatus({ code: ERROR, message: decision.reason });
        }
        span.end();
      } catch (err) {
        spanError(err);
      }
    },
    flush: () => provider.forceFlush().catch(() => undefined),
    shutdown() {
      shutdownOnce ??= withinMs(provider.shutdown(), settings.timeoutMs + 2_000).catch(() => undefined);
      return shutdownOnce;
    },
  };
}

/** Watches each export's outcome for the rate-limited log; the spans themselves pass through untouched. */
function reportingExporter(inner: SpanExporter, failures: ExportFailureLog, success: number): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      inner.export(spans, (result) => {
        if (result.code === success) failures.succeeded();
        else failures.failed(result.error, spans.length);
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

function withinMs(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); timer.unref(); });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The `authz.tracing` section: OpenTelemetry spans per decision, exported
 * over OTLP/HTTP. Off unless `enabled: true`. The exporter headers usually
 * carry a collector credential, so problem messages name a header, never
 * its value, and `config check` masks the values (mask-config.ts).
 */
import { z } from 'zod';
import * as f from './schema-fields.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** OpenTelemetry attribute keys: dotted lower-case words in practice; anything printable is accepted. */
const ATTRIBUTE_KEY = /^[\x21-\x7e]{1,255}$/;

function plainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Sampling ratio for new traces: 0 (none) … 1 (all). YAML numbers or numeric strings (from `${ENV}`). */
export const ratio = f.field((v) => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= 1
    ? { value: n }
    : { error: 'must be a number from 0 to 1 (e.g. 0.1 samples one new trace in ten)' };
}, 'number 0…1');

/** `{ authorization: "Bearer …", x-api-key: … }` → lower-case names; values are strings and never echoed. */
export const headerMap = f.field((v) => {
  if (!plainMap(v)) return { error: 'must be a map of header name: value' };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v)) {
    if (!HEADER_NAME.test(name)) return { error: `"${clip(name)}" is not an HTTP header name` };
    if (typeof value !== 'string' && typeof value !== 'number') return { error: `the value of ${name} must be a string (quote it)` };
    const key = name.toLowerCase();
    if (key in out) return { error: `${name} is given twice (header names are case-insensitive)` };
    out[key] = String(value);
  }
  return { value: out };
}, 'map header: value');

/** Resource attributes: `{ deployment.environment.name: prod, k8s.cluster.name: eu-1 }`; scalar values only. */
export const attributeMap = f.field((v) => {
  if (!plainMap(v)) return { error: 'must be a map of attribute name: value' };
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(v)) {
    if (!ATTRIBUTE_KEY.test(key)) return { error: `"${clip(key)}" is not an attribute name (printable characters, no spaces)` };
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return { error: `the value of ${key} must be a string, number or true/false` };
    }
    out[key] = value;
  }
  return { value: out };
}, 'map name: value');

export const tracingSection = z.strictObject({
  enabled: f.bool.optional(),
  otlp: z
    .strictObject({
      endpoint: f.httpUrl.optional(),
      headers: headerMap.optional(),
      timeout: f.duration(1).optional(),
    })
    .optional(),
  sampler: z.strictObject({ ratio: ratio.optional() }).optional(),
  'service-name': f.text.optional(),
  'resource-attributes': attributeMap.optional(),
  'include-user': f.bool.optional(),
});

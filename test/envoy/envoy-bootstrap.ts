/**
 * What the envoy/*.yaml tests share: reading a bootstrap from envoy/, the
 * parts of it they look at, one-place edits for "a broken copy" tests, and
 * Envoy's StringMatcher lists (the header lists of ext_authz) as a predicate.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** The YAML path of the listener's HttpConnectionManager, as the Bootstrap check names it. */
export const HCM_PATH = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';

/** The text of envoy/<name> (tests run from dist/test/envoy/). */
export function readEnvoyFile(name: string): string {
  return readFileSync(new URL(`../../../envoy/${name}`, import.meta.url), 'utf8');
}

export interface HttpFilter {
  readonly name: string;
  typed_config: any;
}

export interface BootstrapParts {
  readonly config: any;
  readonly listener: any;
  readonly hcm: any;
  readonly filters: HttpFilter[];
  readonly extAuthz: HttpFilter;
  readonly clusters: any[];
}

/** A fresh parse each call, so a test may change what it gets. */
export function bootstrapParts(yamlText: string): BootstrapParts {
  const config = parse(yamlText) as any;
  const listener = config.static_resources.listeners[0];
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  const filters = hcm.http_filters as HttpFilter[];
  const extAuthz = filters.find((f) => f.name === EXT_AUTHZ_FILTER);
  assert.ok(extAuthz, `${EXT_AUTHZ_FILTER} is configured`);
  return { config, listener, hcm, filters, extAuthz, clusters: config.static_resources.clusters as any[] };
}

export function clusterNamed(parts: BootstrapParts, name: string): any {
  const cluster = parts.clusters.find((c) => c.name === name);
  assert.ok(cluster, `cluster ${name} exists`);
  return cluster;
}

/** Replaces exactly one occurrence, so a test never silently edits nothing. */
export function editedOnce(text: string, search: string, replacement: string): string {
  const at = text.indexOf(search);
  assert.ok(at >= 0 && text.indexOf(search, at + 1) < 0, `"${search}" must occur once`);
  return text.slice(0, at) + replacement + text.slice(at + search.length);
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** envoy.type.matcher.v3.StringMatcher, the kinds a header list uses. */
export interface StringMatcher {
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly contains?: string;
  readonly ignore_case?: boolean;
}

export interface ListStringMatcher {
  readonly patterns: readonly StringMatcher[];
}

/** Envoy's match of one header name against a ListStringMatcher (absent list: nothing matches). */
export function listMatches(list: ListStringMatcher | undefined, header: string): boolean {
  return (list?.patterns ?? []).some((m) => {
    const fold = (s: string) => (m.ignore_case ? s.toLowerCase() : s);
    const name = fold(header);
    if (m.exact !== undefined) return name === fold(m.exact);
    if (m.prefix !== undefined) return name.startsWith(fold(m.prefix));
    if (m.suffix !== undefined) return name.endsWith(fold(m.suffix));
    if (m.contains !== undefined) return name.includes(fold(m.contains));
    throw new Error(`unsupported StringMatcher in a header list: ${JSON.stringify(m)}`);
  });
}

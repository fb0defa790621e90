/**
 * Checks an Envoy v3 bootstrap (envoy.yaml) against Envoy's own protos the
 * way Envoy's loader reads it: protobuf JSON mapping (snake_case or
 * lowerCamelCase names, Durations as "0.5s", wrappers as plain scalars),
 * unknown fields rejected, every `typed_config` Any resolved by its `@type`
 * and checked inside, plus the protoc-gen-validate rules that make a field
 * or oneof required. A broken envoy.yaml fails in CI, not at Envoy start.
 *
 * Error messages carry the YAML path and line, never a configured value
 * (an envoy.yaml may hold inline keys or tokens).
 */
import protobuf from 'protobufjs';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { EnvoyProtoSchema, FULL_NAME } from './envoy-proto-schema.js';

export { EnvoyProtoSchema };

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

export interface EnvoyConfigCheckResult {
  /** Each problem as `<yaml.path>: <what is wrong> (line N)`; empty = valid. */
  readonly errors: string[];
  /** Deprecated fields in use: Envoy accepts them today, with a warning. */
  readonly warnings: string[];
}

const MAX_DEPTH = 100;

let defaultSchema: EnvoyProtoSchema | undefined;

/** Checks an envoy.yaml (YAML or JSON text) as a v3 Bootstrap. */
export function checkEnvoyBootstrap(yamlText: string): EnvoyConfigCheckResult {
  defaultSchema ??= new EnvoyProtoSchema();
  return checkEnvoyYaml(yamlText, BOOTSTRAP_TYPE, defaultSchema);
}

/** Checks YAML text as any Envoy message type (e.g. a Cluster on its own). */
export function checkEnvoyYaml(yamlText: string, typeName: string, schema: EnvoyProtoSchema): EnvoyConfigCheckResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const lineCounter = new LineCounter();
  let doc: Document;
  let value: unknown;
  try {
    doc = parseDocument(yamlText, { lineCounter, intAsBigInt: true, merge: true, uniqueKeys: true, prettyErrors: false });
    // The code only: YAML's own messages may quote the (possibly secret) source text.
    for (const e of doc.errors) errors.push(`YAML: ${e.code} (line ${lineCounter.linePos(e.pos[0]).line})`);
    if (errors.length) return { errors, warnings };
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { errors: [`YAML: ${typeof code === 'string' ? code : 'unreadable document'}`], warnings };
  }
  const type = schema.messageType(typeName);
  if (!type) return { errors: [`unknown message type ${typeName}`], warnings };
  const report = (list: string[]) => (path: Path, message: string) => {
    const node = path.length ? doc.getIn(path, true) : doc.contents;
    const line = isNode(node) && node.range ? ` (line ${lineCounter.linePos(node.range[0]).line})` : '';
    list.push(`${formatPath(path)}: ${message}${line}`);
  };
  new MessageWalker(schema, report(errors), report(warnings)).message(value, type, []);
  return { errors, warnings };
}

type Path = (string | number)[];
type Report = (path: Path, message: string) => void;

function formatPath(path: Path): string {
  if (!path.length) return '(root)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_@][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'bigint') return 'a number';
  return `a ${typeof value}`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double', '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64', '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32', '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool', '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};
/** Types whose JSON form is not an object of fields (inside an Any they sit under `value`). */
const SPECIAL_JSON = new Set([
  ...Object.keys(WRAPPERS), '.google.protobuf.Duration', '.google.protobuf.Timestamp',
  '.google.protobuf.Struct', '.google.protobuf.Value', '.google.protobuf.ListValue',
  '.google.protobuf.FieldMask',
]);
const TYPED_STRUCTS = new Set(['.xds.type.v3.TypedStruct', '.udpa.type.v1.TypedStruct']);
const DURATION = /^-?\d{1,12}(\.\d{1,9})?s$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;
const INTEGER = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n], sint32: [-(2n ** 31n), 2n ** 31n - 1n], sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n], fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n], sint64: [-(2n ** 63n), 2n ** 63n - 1n], sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n], fixed64: [0n, 2n ** 64n - 1n],
};

/** snake_case and lowerCamelCase (proto JSON name) → field, per type. */
const fieldIndexes = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();
function fieldIndex(type: protobuf.Type): Map<string, protobuf.Field> {
  let index = fieldIndexes.get(type);
  if (!index) {
    index = new Map();
    for (const field of type.fieldsArray) {
      index.set(field.name, field);
      index.set(field.name.replace(/_(.)/g, (_m, c: string) => c.toUpperCase()), field);
    }
    fieldIndexes.set(type, index);
  }
  return index;
}

/** A oneof that proto3 `optional` generates: one member, nothing to exclude. */
function isRealOneof(oneof: protobuf.OneOf | null): oneof is protobuf.OneOf {
  return oneof !== null && !(oneof.fieldsArray.length === 1 && oneof.name.startsWith('_'));
}

function rule(field: protobuf.Field, key: string): unknown {
  return field.options?.[`(validate.rules).${key}`];
}

class MessageWalker {
  constructor(
    private readonly schema: EnvoyProtoSchema,
    private readonly error: Report,
    private readonly warn: Report,
  ) {}

  message(value: unknown, type: protobuf.Type, path: Path): void {
    if (path.length > MAX_DEPTH) return this.error(path, `nested deeper than ${MAX_DEPTH} levels`);
    const name = type.fullName;
    const wrapped = WRAPPERS[name];
    if (wrapped) return this.scalar(value, wrapped, path);
    switch (name) {
      case '.google.protobuf.Duration':
        if (typeof value !== 'string' || !DURATION.test(value)) this.error(path, `expected a duration such as "0.5s", got ${kindOf(value)}`);
        return;
      case '.google.protobuf.Timestamp':
        if (typeof value !== 'string' || !TIMESTAMP.test(value)) this.error(path, `expected an RFC 3339 timestamp, got ${kindOf(value)}`);
        return;
      case '.google.protobuf.FieldMask':
        if (typeof value !== 'string') this.error(path, `expected a field mask string, got ${kindOf(value)}`);
        return;
      case '.google.protobuf.Value': return;
      case '.google.protobuf.Struct':
        if (!isMapping(value)) this.error(path, `expected a mapping (Struct), got ${kindOf(value)}`);
        return;
      case '.google.protobuf.ListValue':
        if (!Array.isArray(value)) this.error(path, `expected a list (ListValue), got ${kindOf(value)}`);
        return;
      case '.google.protobuf.Any': return this.any(value, path);
    }
    if (!isMapping(value)) return this.error(path, `expected a mapping (${name.slice(1)}), got ${kindOf(value)}`);
    this.fields(value, type, path, undefined);
  }

  private any(value: unknown, path: Path): void {
    if (!isMapping(value)) return this.error(path, `expected a mapping with "@type", got ${kindOf(value)}`);
    const typeUrl = value['@type'];
    if (typeof typeUrl !== 'string') return this.error(path, 'missing "@type" (type.googleapis.com/<full.type.Name>)');
    const slash = typeUrl.lastIndexOf('/');
    const typeName = typeUrl.slice(slash + 1);
    const type = slash > 0 ? this.schema.messageType(typeName) : undefined;
    const at = [...path, '@type'];
    if (slash <= 0) return this.error(at, 'malformed type URL: expected type.googleapis.com/<full.type.Name>');
    if (!type) {
      const shown = FULL_NAME.test(typeName) ? `"${typeName}"` : 'given';
      return this.error(at, `unknown @type: the type ${shown} is not in Envoy's protos (as bundled with @grpc/grpc-js-xds)`);
    }
    if (SPECIAL_JSON.has(type.fullName)) {
      for (const key of Object.keys(value)) {
        if (key !== '@type' && key !== 'value') this.error([...path, key], `unknown field "${key}" (a ${typeName} inside an Any sits under "value")`);
      }
      return this.message(value.value, type, [...path, 'value']);
    }
    this.fields(value, type, path, '@type');
    if (TYPED_STRUCTS.has(type.fullName)) this.typedStruct(value, path);
  }

  /** TypedStruct carries its real type in `type_url` and the message as a Struct in `value`. */
  private typedStruct(value: Record<string, unknown>, path: Path): void {
    const url = value.type_url ?? value.typeUrl;
    if (typeof url !== 'string' || !isMapping(value.value)) return;
    const innerName = url.slice(url.lastIndexOf('/') + 1);
    const inner = this.schema.messageType(innerName);
    if (!inner) return this.error([...path, 'type_url'], `unknown type: "${FULL_NAME.test(innerName) ? innerName : '?'}" is not in Envoy's protos`);
    if (!SPECIAL_JSON.has(inner.fullName)) this.fields(value.value, inner, [...path, 'value'], undefined);
  }

  private fields(value: Record<string, unknown>, type: protobuf.Type, path: Path, skipKey: string | undefined): void {
    const index = fieldIndex(type);
    const present = new Set<protobuf.Field>();
    const oneofMembers = new Map<protobuf.OneOf, string>();
    for (const [key, fieldValue] of Object.entries(value)) {
      if (key === skipKey) continue;
      const field = index.get(key);
      const at = [...path, key];
      if (!field) {
        this.error(at, `unknown field "${key}" in ${type.fullName.slice(1)}`);
        continue;
      }
      if (present.has(field)) this.error(at, `field "${field.name}" given twice (snake_case and camelCase)`);
      if (fieldValue === null && field.resolvedType?.fullName !== '.google.protobuf.Value') continue; // JSON null = unset
      present.add(field);
      if (isRealOneof(field.partOf)) {
        const other = oneofMembers.get(field.partOf);
        if (other) this.error(at, `"${key}" and "${other}" are both set, but only one of oneof "${field.partOf.name}" may be`);
        else oneofMembers.set(field.partOf, key);
      }
      if (field.options?.deprecated) this.warn(at, `"${field.name}" is deprecated in ${type.fullName.slice(1)}`);
      this.field(fieldValue, field, at);
    }
    this.required(type, present, oneofMembers, path);
  }

  /** protoc-gen-validate rules Envoy enforces on absent fields and oneofs. */
  private required(type: protobuf.Type, present: Set<protobuf.Field>, oneofs: Map<protobuf.OneOf, string>, path: Path): void {
    for (const field of type.fieldsArray) {
      if (present.has(field) || field.partOf) continue;
      const needed =
        rule(field, 'message.required') === true || rule(field, 'duration.required') === true ||
        rule(field, 'any.required') === true || rule(field, 'timestamp.required') === true ||
        Number(rule(field, 'string.min_len') ?? rule(field, 'string.min_bytes') ?? 0) > 0 ||
        Number(rule(field, 'repeated.min_items') ?? rule(field, 'map.min_pairs') ?? 0) > 0;
      if (needed) this.error(path, `missing required field "${field.name}" of ${type.fullName.slice(1)}`);
    }
    for (const oneof of type.oneofsArray) {
      if (oneof.options?.['(validate.required)'] === true && !oneofs.has(oneof)) {
        this.error(path, `one of ${oneof.oneof.map((n) => `"${n}"`).join(', ')} is required (oneof "${oneof.name}")`);
      }
    }
  }

  private field(value: unknown, field: protobuf.Field, path: Path): void {
    if (field.map) {
      if (!isMapping(value)) return this.error(path, `expected a mapping, got ${kindOf(value)}`);
      const keyType = (field as unknown as protobuf.MapField).keyType;
      for (const [key, item] of Object.entries(value)) {
        if (keyType === 'bool' ? key !== 'true' && key !== 'false' : keyType !== 'string' && !INTEGER.test(key)) {
          this.error([...path, key], `map key must be a ${keyType}`);
        }
        this.single(item, field, [...path, key]);
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) return this.error(path, `expected a list, got ${kindOf(value)}`);
      const minItems = Number(rule(field, 'repeated.min_items') ?? 0);
      if (value.length < minItems) this.error(path, `needs at least ${minItems} item(s)`);
      value.forEach((item, i) => this.single(item, field, [...path, i]));
      return;
    }
    this.single(value, field, path);
  }

  private single(value: unknown, field: protobuf.Field, path: Path): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(value, resolved, path);
    if (resolved instanceof protobuf.Enum) return this.enumValue(value, resolved, path);
    this.scalar(value, field.type, path);
    if (typeof value === 'string' && rule(field, 'string.ignore_empty') !== true) {
      const minLen = Number(rule(field, 'string.min_len') ?? rule(field, 'string.min_bytes') ?? 0);
      if ([...value].length < minLen) this.error(path, `must be at least ${minLen} character(s)`);
    }
  }

  private enumValue(value: unknown, type: protobuf.Enum, path: Path): void {
    const names = Object.keys(type.values);
    if (typeof value === 'string' && Object.hasOwn(type.values, value)) return;
    if ((typeof value === 'number' || typeof value === 'bigint') && Object.values(type.values).includes(Number(value))) return;
    const shown = typeof value === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(value) ? `"${value}"` : kindOf(value);
    const expected = names.length <= 16 ? `: one of ${names.join(', ')}` : '';
    this.error(path, `${shown} is not a value of enum ${type.fullName.slice(1)}${expected}`);
  }

  private scalar(value: unknown, scalarType: string, path: Path): void {
    const range = INT_RANGES[scalarType];
    let ok: boolean;
    if (range) {
      const asBig = typeof value === 'bigint' ? value
        : typeof value === 'number' && Number.isInteger(value) ? BigInt(value)
        : typeof value === 'string' && INTEGER.test(value) ? BigInt(value) : undefined;
      ok = asBig !== undefined && asBig >= range[0] && asBig <= range[1];
    } else if (scalarType === 'double' || scalarType === 'float') {
      ok = typeof value === 'bigint' || (typeof value === 'number' && !Number.isNaN(value)) ||
        (typeof value === 'string' && (/^(NaN|-?Infinity)$/.test(value) || (value.trim() !== '' && Number.isFinite(Number(value)))));
    } else if (scalarType === 'bool') {
      ok = typeof value === 'boolean';
    } else if (scalarType === 'bytes') {
      ok = typeof value === 'string' && BASE64.test(value);
    } else {
      ok = typeof value === 'string';
    }
    if (ok) return;
    const wanted = range ? `an integer (${scalarType})` : scalarType === 'bytes' ? 'base64 bytes' : `a ${scalarType}`;
    const numeric = typeof value === 'number' || typeof value === 'bigint';
    this.error(path, `expected ${wanted}, got ${kindOf(value)}${range && numeric ? ' out of range or not whole' : ''}`);
  }
}

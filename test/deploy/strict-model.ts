/**
 * Schema validation with kubernetes-models (and its Istio / Prometheus
 * Operator siblings) plus the one check their schemas leave out: unknown
 * fields. Kubernetes' OpenAPI schemas have no `additionalProperties: false`,
 * so a typo such as `readOnlyRootFileSystem` passes `.validate()` — while
 * `kubectl apply` (strict field validation) rejects it, or a CRD silently
 * prunes it. A field the validator never looks at is a field the schema does
 * not know: we wrap the model in a Proxy that records which keys the
 * validator reads, then report every key it never read. Maps the schema
 * declares open (labels, ConfigMap data, resource quantities) are walked
 * key-by-key by the validator, which marks all their keys as known.
 */
interface Validatable {
  validate(): void;
}

function trackReads(root: object): { proxy: object; unknownFields(): string[] } {
  const read = new WeakMap<object, Set<string>>();
  const enumerated = new WeakSet<object>();
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const cached = proxies.get(value);
    if (cached) return cached;
    read.set(value, new Set());
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === 'string') read.get(target)!.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        if (typeof key === 'string') read.get(target)!.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  const unknownFields = (): string[] => {
    const found: string[] = [];
    const walk = (value: unknown, path: string): void => {
      if (value === null || typeof value !== 'object') return;
      const isArray = Array.isArray(value);
      const seen = read.get(value);
      for (const [key, child] of Object.entries(value)) {
        const childPath = isArray ? `${path}[${key}]` : `${path}.${key}`;
        if (!isArray && !enumerated.has(value) && !seen?.has(key)) {
          found.push(childPath.slice(1));
          continue;
        }
        walk(child, childPath);
      }
    };
    walk(root, '');
    return found;
  };
  return { proxy: wrap(root) as object, unknownFields };
}

/**
 * Runs the model's own `.validate()` (throws on a schema violation) and
 * returns the dotted paths of fields the schema does not define.
 */
export function validateStrict(model: Validatable): string[] {
  const tracked = trackReads(model as object);
  (tracked.proxy as Validatable).validate();
  return tracked.unknownFields();
}

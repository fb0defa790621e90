/**
 * Freezes a value and everything reachable from it, so a loaded config can
 * be shared by every request and swapped whole on reload, never edited in
 * place. Typed arrays (the secrets) cannot be frozen by the language; they
 * are left as they are and must be treated as read-only.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  for (const key of Reflect.ownKeys(value)) {
    deepFreeze((value as Record<string | symbol, unknown>)[key]);
  }
  return Object.freeze(value);
}

// Client-supplied maps (EncryptionContext, tags, grant constraints) may use any string as a key, "__proto__"
// included. Plain assignment of that key sets the object's prototype instead of adding an entry, silently
// dropping it; this defines it as data, as Object.fromEntries and JSON.parse do.

/** target[key] = value, where a key named "__proto__" stays an entry. */
export function setEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

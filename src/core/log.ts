/**
 * Structured logs: Workers Logs indexes the fields of a logged object, so every line is one object
 * with a `message` and named fields, never a bare string.
 */
type Fields = Record<string, unknown>;

/** An error as plain fields (a thrown Error's properties are not enumerable, so it would log as `{}`). */
export function errorFields(err: unknown): Fields {
  if (!(err instanceof Error)) return { error: String(err) };
  return { error: { name: err.name, message: err.message, stack: err.stack, ...(err.cause !== undefined ? { cause: errorFields(err.cause) } : {}) } };
}

export function logInfo(message: string, fields: Fields = {}): void {
  console.log({ level: "info", message, ...fields });
}

export function logWarn(message: string, fields: Fields = {}): void {
  console.warn({ level: "warn", message, ...fields });
}

export function logError(message: string, fields: Fields = {}): void {
  console.error({ level: "error", message, ...fields });
}

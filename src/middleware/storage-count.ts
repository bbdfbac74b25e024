import type { Context, MiddlewareHandler } from "hono";
import { countingD1, countingKV, formatStorageCounts, newStorageCounts, type StorageCounts } from "../core/storage-counting";

export type StorageCountVariables = {
  /** The counts of this request; set only when the header is asked for. */
  storage?: StorageCounts;
  d1: D1Database;
  kv: KVNamespace;
};

export interface CountStorageOptions<E extends { Bindings: object }> {
  /** Whether to count and add the `X-Storage-Ops` header (default: the STORAGE_COUNT_HEADER var); asked before the route runs. */
  header?: (c: Context<E>) => boolean;
  /** The names of the D1 and KV bindings (default `DB` and `KV`). */
  bindings?: { database: string; kv: string };
}

function binding<T>(env: object | undefined, name: string): T {
  return (env as Record<string, T> | undefined)?.[name] as T;
}

/**
 * Puts the D1 and KV bindings on the request (`c.var.d1`, `c.var.kv`). With the STORAGE_COUNT_HEADER
 * var set, they are counting views, and the round-trips are reported in an `X-Storage-Ops` response
 * header; without it, the bindings themselves (no wrapper, no counter: nothing to pay per request).
 */
export function countStorage<E extends { Bindings: object; Variables: StorageCountVariables }>(
  options: CountStorageOptions<E> = {},
): MiddlewareHandler<E> {
  const { database, kv } = options.bindings ?? { database: "DB", kv: "KV" };
  const wantsHeader =
    options.header ??
    ((c: Context<E>) => {
      const flag = binding<unknown>(c.env, "STORAGE_COUNT_HEADER");
      return flag === true || flag === "true" || flag === "1";
    });
  return async (c, next) => {
    // Counted already, by a countStorage that ran before this one.
    if (c.get("storage")) return next();
    // A missing binding stays missing (undefined), for the route to report as a configuration error.
    const d1 = binding<D1Database | undefined>(c.env, database);
    const namespace = binding<KVNamespace | undefined>(c.env, kv);
    if (!wantsHeader(c)) {
      if (d1) c.set("d1", d1);
      if (namespace) c.set("kv", namespace);
      return next();
    }
    const storage = newStorageCounts();
    c.set("storage", storage);
    if (d1) c.set("d1", countingD1(d1, storage));
    if (namespace) c.set("kv", countingKV(namespace, storage));
    await next();
    c.res.headers.set("X-Storage-Ops", formatStorageCounts(storage));
  };
}

import type { Context, MiddlewareHandler } from "hono";
import { countingD1, countingKV, formatStorageCounts, newStorageCounts, type StorageCounts } from "../core/storage-counting";

export type StorageCountVariables = { storage: StorageCounts; d1: D1Database; kv: KVNamespace };

type Bindings = { DB: D1Database; KV: KVNamespace; STORAGE_COUNT_HEADER?: unknown };

/**
 * Gives the request counting views of the D1 and KV bindings (`c.var.d1`, `c.var.kv`), and with
 * the STORAGE_COUNT_HEADER var set, reports the round-trips in an `X-Storage-Ops` response header.
 */
export function countStorage<E extends { Bindings: Bindings; Variables: StorageCountVariables }>(
  options: { header?: (c: Context<E>) => boolean } = {},
): MiddlewareHandler<E> {
  const wantsHeader =
    options.header ??
    ((c: Context<E>) => {
      const flag = c.env.STORAGE_COUNT_HEADER;
      return flag === true || flag === "true" || flag === "1";
    });
  return async (c, next) => {
    if (c.var.storage) return next();
    const storage = newStorageCounts();
    c.set("storage", storage);
    c.set("d1", countingD1(c.env.DB, storage));
    c.set("kv", countingKV(c.env.KV, storage));
    await next();
    if (wantsHeader(c)) c.res.headers.set("X-Storage-Ops", formatStorageCounts(storage));
  };
}

import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      KV: KVNamespace;
      SIGNING_KEYS: string;
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
export {};

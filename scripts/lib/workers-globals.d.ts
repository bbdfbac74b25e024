// Under tsconfig.node.json (Node types + DOM lib) the Workers globals are absent, but src/db and
// src/tokens name `D1Database` and `KVNamespace` globally. Borrow those types from the module form
// of the Workers types.
import type { D1Database as WorkersD1Database, KVNamespace as WorkersKVNamespace } from "@cloudflare/workers-types";

declare global {
  type D1Database = WorkersD1Database;
  type KVNamespace<Key extends string = string> = WorkersKVNamespace<Key>;
}

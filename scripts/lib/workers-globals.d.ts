// Under tsconfig.node.json (Node types + DOM lib) the Workers globals are absent, but src/db
// names `D1Database` globally. Borrow that one type, from the module form of the Workers types.
import type { D1Database as WorkersD1Database } from "@cloudflare/workers-types";

declare global {
  type D1Database = WorkersD1Database;
}

/**
 * Admin CLI: `npm run admin -- <command> [options]` (run `npm run admin -- help`).
 *
 * Acts on the local D1 database that `wrangler dev` / `npm start` serve (wrangler's local state,
 * `--persist-to DIR`, default .wrangler/state), or with `--remote` on the deployed one.
 * The commands live in scripts/admin/, one file per group (clients.ts, users.ts, keys.ts,
 * tokens.ts); scripts/admin/index.ts parses the command line. This file is the entry point.
 * Exit codes: 0 success, 1 failure or not found, 2 usage error.
 */
import module from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { main } from "./admin/index";

export { CliError, commands, main, UsageError, type MainOptions, type Output } from "./admin/index";

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // Caches V8's compilation of wrangler's large bundle between runs (Node's own cache directory).
  module.enableCompileCache?.();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}


import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import { generateSigningKeySet } from "./src/tokens/generate-keys.ts";
import { answerOutboundFetch } from "./test/cimd-document-server.ts";

// Keys for the test run are generated here, never committed.
const signingKeys = JSON.stringify(await generateSigningKeySet());
const secretKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
const migrations = await readD1Migrations(new URL("./migrations", import.meta.url).pathname);

export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    // Two test files at a time even on 2 cores (vitest's default there is one): one node file at a
    // time kept 1.2 of 2 cores busy (its wrangler, workerd and browser wait on each other), two
    // cut the node project from 465 to 355 s. Both projects take this number (projects with
    // different maxWorkers would run one after the other).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        // Integration tests inside workerd, against the real local D1 and KV.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                SIGNING_KEYS: signingKeys,
                SECRET_KEY: secretKey,
                STORAGE_COUNT_HEADER: "true",
                // The hosts the tests use; with neither ISSUER nor ALLOWED_HOSTS only loopback is answered.
                ALLOWED_HOSTS: "auth.example.com localhost",
              },
              // The Worker's own fetches: client ID metadata documents on *.cimd.test are answered
              // by a fake server the tests script; everything else goes out as before.
              outboundService: answerOutboundFetch,
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          // Test files share a runtime (and the isolate's caches) instead of starting one each:
          // every test makes its own clients, users and tokens, so none depends on a fresh module
          // state; the worker project went from 185 to 48 s.
          isolate: false,
          setupFiles: ["./test/worker/support/apply-migrations.ts"],
        },
      },
      {
        // Tests from outside: the admin CLI, and real client libraries against `wrangler dev`.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          // One migrated state directory that every `useServer` server copies (test/node/support/migrated-state.ts).
          globalSetup: ["./test/node/support/migrated-state.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

/**
 * One wrangler state directory with the migrations applied, made once per run and copied by every
 * server.ts server instead of running `wrangler d1 migrations apply` for each (a wrangler process
 * and a workerd: ~10 CPU-seconds, which 2 cores running two test files at a time feel).
 *
 * The default export is the node project's globalSetup (vitest.config.ts). In vitest's main process
 * it starts a small HTTP server on loopback and provides its URL as `migratedStateBroker`:
 *
 *   POST /migrated-state   runs `wrangler d1 migrations apply DB --local` on the directory the first
 *                          time it is asked (so runs without a server file pay nothing), answers { dir }
 *
 * Test files copy it with {@link copyMigratedState}. Teardown removes the directory.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { applyLocalMigrations } from "../../../scripts/lib/local-db";

declare module "vitest" {
  interface ProvidedContext {
    /** The URL of the migrated state directory's broker (migrated-state.ts). */
    migratedStateBroker: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tempDir = mkdtempSync(join(tmpdir(), "eot-migrated-"));
  const dir = join(tempDir, "state");
  let migrated: Promise<void> | undefined;

  const broker = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/migrated-state") {
      res.writeHead(404).end();
      return;
    }
    (migrated ??= applyLocalMigrations(dir)).then(
      () => send(200, { dir }),
      // Not cached as a failure for good: the next file to ask tries again.
      (error: Error) => ((migrated = undefined), send(500, { error: error.message })),
    );
    function send(status: number, body: unknown) {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    }
  });
  await new Promise<void>((resolve) => broker.listen(0, "127.0.0.1", resolve));
  project.provide("migratedStateBroker", `http://127.0.0.1:${(broker.address() as { port: number }).port}`);

  return async () => {
    await new Promise((resolve) => broker.close(resolve));
    await migrated?.catch(() => {});
    rmSync(tempDir, { recursive: true, force: true });
  };
}

/**
 * Copies the run's migrated directory (made on the first call) to `stateDir`. The copy is whole:
 * the process that migrated it has exited, so its SQLite files (and their -wal) are at rest.
 */
export async function copyMigratedState(broker: string, stateDir: string): Promise<void> {
  const res = await fetch(`${broker}/migrated-state`, { method: "POST" });
  const answer = (await res.json()) as { dir?: string; error?: string };
  if (!res.ok || !answer.dir) throw new Error(`the migrated state directory could not be made: ${answer.error}`);
  cpSync(answer.dir, stateDir, { recursive: true });
}

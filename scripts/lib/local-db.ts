/**
 * The local D1 database that `wrangler dev` (and `npm start`) serves, opened from Node through
 * wrangler's `getPlatformProxy`: same config, same persistence directory, same SQLite file.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import type { Unstable_Config } from "wrangler";
import { openDatabase, type Database } from "../../src/db/index";
import { CONFIG_PATH, DB_BINDING, runWrangler } from "./project";

export interface LocalDatabase {
  db: Database;
  /** The KV namespace `wrangler dev` serves (revocation notes). */
  kv: KVNamespace;
  dispose(): Promise<void>;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

/** `wrangler d1 migrations apply DB --local --persist-to DIR`, quiet unless it fails. */
export async function applyLocalMigrations(stateDir: string): Promise<void> {
  const result = await runWrangler(
    ["d1", "migrations", "apply", DB_BINDING, "--local", "--persist-to", resolve(stateDir)],
    { CI: "1" },
  );
  if (result.code !== 0) {
    throw new MigrationError(
      `wrangler d1 migrations apply failed (exit ${result.code}):\n${result.stdout}${result.stderr}`.trimEnd(),
    );
  }
}

interface D1MigrationsConfig {
  migrationsDir: string;
  migrationsTable: string;
  /** False when wrangler.toml uses a layout this check does not model (then wrangler always runs). */
  simple: boolean;
}

/**
 * Whether some migration may not be applied yet. Conservative: `true` unless every `.sql` file
 * of the migrations directory is recorded in the migrations table. Wrangler stays the one that
 * applies them; this only spares its ~3 s start when there is nothing to do.
 */
export async function mayHavePendingMigrations(d1: D1Database, config: D1MigrationsConfig): Promise<boolean> {
  if (!config.simple) return true;
  let files: string[];
  try {
    files = readdirSync(config.migrationsDir).filter((name) => name.endsWith(".sql"));
  } catch {
    return true;
  }
  let applied: Set<string>;
  try {
    const table = `"${config.migrationsTable.replace(/"/g, '""')}"`;
    const { results } = await d1.prepare(`SELECT name FROM ${table}`).all<{ name: string }>();
    applied = new Set(results.map((row) => row.name));
  } catch {
    return true; // no migrations table yet
  }
  return files.some((name) => !applied.has(name));
}

/**
 * Runs `start` with wrangler's chatter ("Using secrets defined in .dev.vars", which its logger
 * writes with console.log) sent to stderr, so stdout carries only a command's own output, e.g. one
 * `--json` document. Not WRANGLER_LOG: the environment is shared with the wrangler processes other
 * commands start meanwhile, and `wrangler d1 execute --json` prints its result at that level.
 * Overlapping calls share one redirection; the last to finish puts console.log back.
 */
let redirections = 0;
let original: Pick<Console, "log" | "info"> | undefined;

async function quietly<T>(start: () => Promise<T>): Promise<T> {
  if (redirections++ === 0) {
    original = { log: console.log, info: console.info };
    console.log = console.info = (...args: unknown[]) => console.error(...args);
  }
  try {
    return await start();
  } finally {
    if (--redirections === 0 && original) Object.assign(console, original);
  }
}

/**
 * Opens the local database under `stateDir` (wrangler's `--persist-to` directory; its data lives
 * in `<stateDir>/v3`), applying pending migrations first. Call `dispose()` when done.
 */
export async function openLocalDatabase(stateDir: string): Promise<LocalDatabase> {
  // require(), not import(): loading wrangler's 15 MB CommonJS bundle through the ESM loader
  // (and tsx's hooks) costs about a second more on every CLI run.
  const { getPlatformProxy, unstable_readConfig } = createRequire(import.meta.url)("wrangler") as typeof import("wrangler");
  const config: Unstable_Config = unstable_readConfig({ config: CONFIG_PATH }, { hideWarnings: true });
  const binding = config.d1_databases.find((d) => d.binding === DB_BINDING);
  if (!binding) throw new Error(`wrangler.toml has no D1 binding named ${DB_BINDING}`);
  const migrations: D1MigrationsConfig = {
    migrationsDir: join(dirname(CONFIG_PATH), binding.migrations_dir ?? "migrations"),
    migrationsTable: binding.migrations_table ?? "d1_migrations",
    simple: binding.migrations_pattern === undefined,
  };

  const open = () =>
    quietly(() =>
      getPlatformProxy<{ DB: D1Database; KV: KVNamespace }>({
        configPath: CONFIG_PATH,
        persist: { path: join(resolve(stateDir), "v3") },
        remoteBindings: false,
      }),
    );
  let proxy = await open();
  let pending: boolean;
  try {
    pending = await mayHavePendingMigrations(proxy.env.DB, migrations);
  } catch (error) {
    await proxy.dispose();
    throw error;
  }
  if (pending) {
    // wrangler applies them from a workerd process of its own, on the same SQLite file: ours is
    // closed meanwhile, or the two contend for it ("database is locked: SQLITE_BUSY", seen on a
    // fresh state directory on a busy machine).
    await proxy.dispose();
    await applyLocalMigrations(stateDir);
    proxy = await open();
  }
  const opened = proxy;
  return { db: openDatabase(opened.env.DB), kv: opened.env.KV, dispose: () => opened.dispose() };
}

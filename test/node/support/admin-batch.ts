/**
 * Runs several admin command lines in one process, one after another, each through the CLI's
 * `main` with the real process streams, and records what each wrote to stdout and stderr: its own
 * output and anything else written there meanwhile (wrangler's and workerd's chatter go through
 * the same `process.stdout`). One process instead of one per command line, and one local database
 * per state directory, opened by the first command line that uses it (that one sees what opening
 * it prints): each process start and each open of wrangler's runtime cost seconds.
 *
 *   node --import tsx test/node/support/admin-batch.ts '[["user", "list", "--json"], ...]'
 *
 * Prints the results, `[{ args, code, stdout, stderr }, ...]`, as JSON once all have run.
 */
import { main } from "../../../scripts/admin";
import { openLocalDatabase, type LocalDatabase } from "../../../scripts/lib/local-db";

export interface BatchResult {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

type Write = typeof process.stdout.write;

/** Runs `run` with everything written to stdout and stderr collected instead of shown. */
async function capture(run: () => Promise<number>): Promise<Omit<BatchResult, "args">> {
  const original = { out: process.stdout.write, err: process.stderr.write };
  let stdout = "";
  let stderr = "";
  const collect = (append: (text: string) => void): Write =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const callback = rest.find((arg): arg is () => void => typeof arg === "function");
      callback?.();
      return true;
    }) as Write;
  process.stdout.write = collect((text) => (stdout += text));
  process.stderr.write = collect((text) => (stderr += text));
  try {
    const code = await run();
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = original.out;
    process.stderr.write = original.err;
  }
}

const opened = new Map<string, Promise<LocalDatabase>>();
/** The state directory's database, opened once; the commands' `dispose` leaves it open. */
function openShared(stateDir: string): Promise<LocalDatabase> {
  if (!opened.has(stateDir)) opened.set(stateDir, openLocalDatabase(stateDir));
  return opened.get(stateDir)!.then(({ db, kv }) => ({ db, kv, dispose: async () => {} }));
}

const lines = JSON.parse(process.argv[2] ?? "[]") as string[][];
const results: BatchResult[] = [];
for (const args of lines) results.push({ args, ...(await capture(() => main(args, undefined, { openLocal: openShared }))) });
await Promise.all([...opened.values()].map(async (local) => (await local).dispose()));
process.stdout.write(`${JSON.stringify(results)}\n`);

import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";

/** A free TCP port on 127.0.0.1 (for workerd's inspector). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

interface Target {
  id: string;
  webSocketDebuggerUrl: string;
}

/**
 * CPU profiles of the Worker's isolate through workerd's inspector (Chrome DevTools protocol), for
 * `--profile DIR`: one `<scenario>.cpuprofile` per scenario's load run, to open in Chrome DevTools
 * (Performance panel) or speedscope. Sampling slows the Worker: figures of a profiled run are lower.
 */
export class WorkerProfiler {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id!);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    });
  }

  static async connect(inspectorPort: number): Promise<WorkerProfiler> {
    const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Target[];
    // The user Worker (named "" here, so "core:user:"; the ceiling Worker, when it runs, is
    // "core:user:bench-ceiling"); not Miniflare's own services.
    const target =
      targets.find((t) => t.id === "core:user:") ??
      targets.find((t) => t.id.startsWith("core:user:")) ??
      targets.find((t) => !/^(MINIFLARE|email:)/.test(t.id));
    if (!target) throw new Error(`no Worker among the inspector's targets: ${targets.map((t) => t.id).join(", ")}`);
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${target.webSocketDebuggerUrl}`)), { once: true });
    });
    const profiler = new WorkerProfiler(ws);
    await profiler.send("Profiler.enable");
    await profiler.send("Profiler.setSamplingInterval", { interval: 100 });
    return profiler;
  }

  private send(method: string, params: object = {}): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  start(): Promise<unknown> {
    return this.send("Profiler.start");
  }

  /** Stops sampling and writes the profile to `file`. */
  async stop(file: string): Promise<void> {
    const result = (await this.send("Profiler.stop")) as { profile: unknown };
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(result.profile));
  }

  close(): void {
    this.ws.close();
  }
}

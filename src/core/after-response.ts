import type { Context } from "hono";

/**
 * Lets `work` run on after the response (`waitUntil`). Without an execution context (`app.request`
 * in tests, no ExecutionContext passed) the promise runs all the same, only not awaited by anyone.
 * Its errors are the caller's to catch first.
 */
export function runAfterResponse(c: Context, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context: `work` is already running.
  }
}

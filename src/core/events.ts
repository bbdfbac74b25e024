import type { Context } from "hono";
import { errorFields, logError } from "./log";

/** What happened, for audit logs and integrations: the analogue of DOT's signals. */
export type ProviderEvent =
  | { type: "token.issued"; grantType: string; clientId: string; userId?: string; scope: string }
  | { type: "token.refreshed"; clientId: string; userId?: string; scope: string }
  | { type: "token.revoked"; clientId: string; tokenType: "access_token" | "refresh_token" }
  | { type: "authorization.granted"; clientId: string; userId: string; scope: string[] }
  | { type: "authorization.denied"; clientId: string; userId: string };

/** Called after the response is decided; a returned promise runs on after the response (`waitUntil`). */
export type EventHook = (event: ProviderEvent, c: Context) => void | Promise<void>;

/** An emitter for one request: failures of the hook are logged, never turned into an error response. */
export function eventEmitter(hook: EventHook | undefined, c: Context): (event: ProviderEvent) => void {
  if (!hook) return () => {};
  return (event) => {
    try {
      const pending = hook(event, c);
      if (pending && typeof pending.then === "function") {
        const logged = pending.catch((err: unknown) => logError("event hook failed", { event: event.type, ...errorFields(err) }));
        try {
          c.executionCtx.waitUntil(logged);
        } catch {
          // No execution context (e.g. app.request in tests): the promise still runs.
        }
      }
    } catch (err) {
      logError("event hook failed", { event: event.type, ...errorFields(err) });
    }
  };
}

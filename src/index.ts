import { Hono } from "hono";
import { createProvider } from "./provider";
import type { ProviderEnv } from "./types";

/** The ready Worker: the provider with its settings from wrangler vars and secrets. */
const app = new Hono<ProviderEnv>();

/** A trivial route: liveness checks, and the benchmark's baseline. */
app.get("/healthz", (c) => c.text("ok"));

app.route("/", createProvider());

export default app;
export { createProvider } from "./provider";
export type { ProviderOptions } from "./provider";

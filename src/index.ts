import { Hono } from "hono";
import { cors } from "hono/cors";
import { clearExpired } from "./cleanup";
import { isOriginRegistered } from "./db/clients";
import { openDatabase } from "./db/index";
import { requireToken, type RequireTokenVariables } from "./middleware/require-token";
import { countStorage, type StorageCountVariables } from "./middleware/storage-count";
import { createProvider } from "./provider";
import { demoCallback } from "./routes/demo-callback";
import { home } from "./routes/home";
import { settingsReader } from "./settings";
import type { Env } from "./types";

/** The ready Worker: the provider with its settings from wrangler vars and secrets. */
const settingsOf = settingsReader();
const app = new Hono<{ Bindings: Env; Variables: RequireTokenVariables & StorageCountVariables }>();

/** A trivial route: liveness checks, and the benchmark's baseline. */
app.get("/healthz", (c) => c.text("ok"));
app.get("/", home);

/** Where `npm start`'s demo client lands: shows the code and how to exchange it. */
app.get("/demo/callback", demoCallback);

/** An example protected API, used by the docs and tests. */
// Browser clients call it cross-origin with a Bearer token (a preflight): CORS for the origins
// clients registered, as the token endpoint allows them. No cookies are involved.
app.use(
  "/api/*",
  cors({
    origin: async (origin, c) =>
      origin && (await isOriginRegistered(openDatabase(c.env.DB), origin, settingsOf(c.env).CLIENT_CACHE_SECONDS)) ? origin : null,
    allowMethods: ["GET"],
    allowHeaders: ["Authorization"],
    exposeHeaders: ["WWW-Authenticate"],
    maxAge: 600,
  }),
);
app.use("/api/*", countStorage());
app.get("/api/me", requireToken({ scopes: ["read"] }), (c) => {
  const token = c.get("accessToken");
  return c.json({ sub: token.sub, client_id: token.client_id, scope: token.scope });
});

app.route("/", createProvider());

export default {
  fetch: app.fetch,
  /** Cron Trigger: DOT's `cleartokens`, in bounded batches. */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext) {
    ctx.waitUntil(
      clearExpired(openDatabase(env.DB), settingsOf(env)).then((report) => console.log("cleartokens", JSON.stringify(report))),
    );
  },
} satisfies ExportedHandler<Env>;

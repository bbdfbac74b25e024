import type { Context } from "hono";
import { Layout } from "../views/layout";
import { sendPage } from "../views/render";

/**
 * Whether the demo client's authorization request used PKCE. The page keeps no session, so the
 * request says so in its state: `npm start`'s sign-in URL sends `state=pkce-…` (the verifier
 * itself never travels in a URL; the banner prints it as `export VERIFIER=…`).
 */
export function usedPkce(state: string | undefined): boolean {
  return state !== undefined && /^pkce(-|$)/.test(state);
}

/**
 * Codes this server issues are base64url. Anything else is not shown in the curl: the page is
 * reachable by any link, and a "code" such as `$(…)` must never land in a command to paste.
 */
const CODE_SHAPE = /^[A-Za-z0-9_-]{1,4096}$/;

/** The curl that exchanges the code at the token endpoint, with the demo client's credentials from the shell. */
function exchangeCommand(origin: string, code: string, pkce: boolean): string {
  return [
    `curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code -d code=${code}`,
    `-d redirect_uri=${origin}/demo/callback`,
    ...(pkce ? ["-d code_verifier=$VERIFIER"] : []),
    `${origin}/o/token/`,
  ].join(" ");
}

/**
 * `GET /demo/callback`: where the demo client of `npm start` lands after signing in. Shows the
 * authorization response and the curl that exchanges the code, for the README's walkthrough.
 */
export function demoCallback(c: Context): Promise<Response> {
  const q = (name: string) => c.req.query(name);
  const origin = new URL(c.req.url).origin;
  const code = q("code");
  const state = q("state");
  const pkce = usedPkce(state);
  const exchange = code && CODE_SHAPE.test(code) ? exchangeCommand(origin, code, pkce) : undefined;
  const html = (
    <Layout title="Demo callback">
      <h1>{code ? "Authorized" : "Not authorized"}</h1>
      {q("error") ? (
        <p class="error" role="alert">
          <code>{q("error")}</code>: {q("error_description")}
        </p>
      ) : null}
      {code && !exchange ? (
        <p class="error" role="alert">
          This is not a code this server issues.
        </p>
      ) : null}
      <p>
        state <code>{state ?? "(none)"}</code>, issuer <code>{q("iss") ?? "(none)"}</code>
      </p>
      {exchange ? (
        <>
          <p>
            Exchange the code within 60 seconds, in the shell where you pasted the <code>export</code> lines{" "}
            <code>npm start</code> printed (the demo client's id and secret are also in .wrangler/demo-client.json):
          </p>
          <pre style="white-space:pre-wrap;word-break:break-all">
            <code>{exchange}</code>
          </pre>
          {pkce ? null : (
            <p class="muted">
              If your authorization request carried a <code>code_challenge</code>, add <code>-d code_verifier=…</code>.
            </p>
          )}
        </>
      ) : null}
    </Layout>
  );
  return sendPage(c, html as unknown as Promise<string>);
}

import type { Context } from "hono";
import { Layout } from "../views/layout";
import { sendPage } from "../views/render";

/**
 * `GET /demo/callback`: where the demo client of `npm start` lands after signing in. Shows the
 * authorization response and the curl that exchanges the code, for the README's walkthrough.
 */
export function demoCallback(c: Context): Promise<Response> {
  const q = (name: string) => c.req.query(name);
  const origin = new URL(c.req.url).origin;
  const code = q("code");
  const exchange = code
    ? `curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code -d code=${code} -d redirect_uri=${origin}/demo/callback ${origin}/o/token/`
    : undefined;
  const html = (
    <Layout title="Demo callback">
      <h1>{code ? "Authorized" : "Not authorized"}</h1>
      {q("error") ? (
        <p class="error" role="alert">
          <code>{q("error")}</code>: {q("error_description")}
        </p>
      ) : null}
      <p>
        state <code>{q("state") ?? "(none)"}</code>, issuer <code>{q("iss") ?? "(none)"}</code>
      </p>
      {exchange ? (
        <>
          <p>Exchange the code within 60 seconds (the demo client's id and secret are in .wrangler/demo-client.json):</p>
          <pre style="white-space:pre-wrap;word-break:break-all">
            <code>{exchange}</code>
          </pre>
        </>
      ) : null}
    </Layout>
  );
  return sendPage(c, html as unknown as Promise<string>);
}

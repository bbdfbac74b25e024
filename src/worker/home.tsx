import type { Context } from "hono";
import { Layout } from "../views/layout";
import { sendPage } from "../views/render";
import { demoUser } from "./demo-login";

/** `GET /`: what this server is and where its endpoints are (the ready Worker's front page). */
export function home(c: Context): Promise<Response> {
  const issuer = `${new URL(c.req.url).origin}/o`;
  const links: [string, string][] = [
    ["OpenID Connect discovery", `${issuer}/.well-known/openid-configuration`],
    ["Authorization server metadata (RFC 8414)", `${new URL(c.req.url).origin}/.well-known/oauth-authorization-server/o`],
    ["Public signing keys (JWKS)", `${issuer}/.well-known/jwks.json`],
    ["API reference (OpenAPI)", `${issuer}/openapi`],
    ["Sign in", `${issuer}/login/`],
  ];
  // Only under `npm start` (the DEMO_USER var), which serves the example SPA's files at /demo/.
  if (demoUser(c)) links.push(["Example SPA (sign in with PKCE in the browser)", `${new URL(c.req.url).origin}/demo/`]);
  const html = (
    <Layout title="Edge OAuth Toolkit">
      <h1>Edge OAuth Toolkit</h1>
      <p>
        An OAuth 2.1 and OpenID Connect authorization server. Issuer: <code>{issuer}</code>
      </p>
      <ul>
        {links.map(([label, href]) => (
          <li>
            <a href={href}>{label}</a>
          </li>
        ))}
      </ul>
    </Layout>
  );
  return sendPage(c, html as unknown as Promise<string>);
}

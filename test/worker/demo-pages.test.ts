import { createExecutionContext, env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { BASE } from "./support/helpers";

/**
 * The ready Worker's development pages: the login page names the demo user only when `npm start`
 * set DEMO_USER, and the demo callback shows a curl that exchanges the code, with the PKCE
 * verifier when the request's state says PKCE was used, and never with a "code" that is not one.
 */

const get = (path: string, bindings: Record<string, unknown> = {}) =>
  worker.fetch(new Request(`${BASE}${path}`), { ...env, ...bindings }, createExecutionContext());

/** The text of the page's `<pre><code>` block: the command to paste, or undefined. */
function command(html: string): string | undefined {
  const match = /<pre[^>]*>\s*<code>([\s\S]*?)<\/code>\s*<\/pre>/.exec(html);
  return match?.[1]?.replace(/&quot;/g, '"').replace(/&amp;/g, "&");
}

describe("login page hint", () => {
  it("names the demo user when DEMO_USER is set (npm start)", async () => {
    const res = await get("/o/login/", { DEMO_USER: "demo / demo-password" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Demo user: demo / demo-password");
    expect(html).toContain('name="csrfmiddlewaretoken"'); // still the provider's working form
  });

  it("names nobody without DEMO_USER (a deployed Worker) or with an empty one", async () => {
    for (const res of [await SELF.fetch(`${BASE}/o/login/`), await get("/o/login/", { DEMO_USER: " " })]) {
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain("Demo user");
    }
  });

  it("escapes the var's text", async () => {
    const html = await (await get("/o/login/", { DEMO_USER: "<script>alert(1)</script>" })).text();
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain("Demo user: &lt;script&gt;");
  });
});

describe("demo callback", () => {
  const callback = (query: Record<string, string>) => SELF.fetch(`${BASE}/demo/callback?${new URLSearchParams(query)}`);

  it("adds the code_verifier to the curl when the state says PKCE (npm start's sign-in URL)", async () => {
    const res = await callback({ code: "abc_DEF-123", state: "pkce-Xy1_z", iss: `${BASE}/o` });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(command(await res.text())).toBe(
      `curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=authorization_code -d code=abc_DEF-123 ` +
        `-d redirect_uri=${BASE}/demo/callback -d code_verifier=$VERIFIER ${BASE}/o/token/`,
    );
  });

  it("leaves the code_verifier out when the state does not say PKCE", async () => {
    for (const state of ["xyz", "pkcex", "not-pkce-", "PKCE-1"]) {
      const curl = command(await (await callback({ code: "abc", state })).text());
      expect(curl).toContain("-d code=abc ");
      expect(curl).not.toContain("code_verifier");
    }
    expect(command(await (await callback({ code: "abc" })).text())).not.toContain("code_verifier");
  });

  it("shows no command for a 'code' that is not base64url (a crafted link must not put shell syntax in a paste)", async () => {
    for (const code of ["$(touch /tmp/pwned)", "a;id", "a b", "`id`", "a'b"]) {
      const html = await (await callback({ code, state: "pkce-1" })).text();
      expect(command(html)).toBeUndefined();
      expect(html).toContain("not a code this server issues");
    }
  });

  it("shows an error response without a command", async () => {
    const html = await (await callback({ error: "access_denied", error_description: "the user said no", state: "pkce-1" })).text();
    expect(html).toContain("Not authorized");
    expect(html).toContain("access_denied");
    expect(command(html)).toBeUndefined();
  });
});

describe("front page", () => {
  it("links the discovery documents, keys, sign-in page and API reference, and each link answers 200", async () => {
    const html = await (await get("/")).text();
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((match) => match[1]!.replace(/&amp;/g, "&"));
    expect(links).toContain(`${BASE}/o/openapi`);
    for (const link of links) expect((await worker.fetch(new Request(link), env, createExecutionContext())).status, link).toBe(200);
  });
});

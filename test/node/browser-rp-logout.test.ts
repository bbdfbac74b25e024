/**
 * OpenID Connect Back-Channel and Front-Channel Logout from outside, in Debian's chromium
 * (playwright-core) against `wrangler dev`: a relying party served by a small Node server on
 * another loopback port signs the user in with the code flow, PKCE and an ID token that
 * oauth4webapi validates; the user signs out at the provider; the sign-out page frames the RP's
 * front-channel logout URI (with `iss` and `sid`) before returning to its post-logout URI, and the
 * RP's back-channel logout URI receives a logout token that verifies against the provider's JWKS
 * as Back-Channel Logout 1.0 §2.6 asks. Loopback logout URIs need CLIENT_ID_METADATA_PRIVATE_HOSTS.
 */
import { createServer, type Server } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from "./support/chromium";
import { useServer, type CreatedUser } from "./support/server";

if (!haveChromium) console.warn(`browser-rp-logout.test.ts skipped: ${CHROMIUM} is missing`);

const http = { [oauth.allowInsecureRequests]: true } as const;

/** What reached the RP: each path's requests (query and body). */
interface Hit {
  path: string;
  query: URLSearchParams;
  body: string;
  contentType?: string;
}

describe.skipIf(!haveChromium)("relying-party logout in chromium", () => {
  const server = useServer({ vars: { CLIENT_ID_METADATA_PRIVATE_HOSTS: "true" } });
  const hits: Hit[] = [];
  let rp: Server;
  let rpOrigin: string;
  let client: { client_id: string; client_secret: string };
  let user: CreatedUser;
  let browser: LaunchedChromium | undefined;

  beforeAll(async () => {
    rp = createServer((req, res) => {
      const url = new URL(req.url ?? "/", rpOrigin);
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        hits.push({ path: url.pathname, query: url.searchParams, body, contentType: req.headers["content-type"] });
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        res.end(`<!doctype html><title>RP ${url.pathname}</title><h1>RP ${url.pathname}</h1>`);
      });
    });
    await new Promise<void>((resolve) => rp.listen(0, "127.0.0.1", resolve));
    rpOrigin = `http://127.0.0.1:${(rp.address() as { port: number }).port}`;
    const created = await server().admin<{ client_id: string; client_secret: string }>([
      "client", "create", "--name", "Logout RP", "--type", "confidential", "--grant-types", "authorization_code",
      "--redirect-uris", `${rpOrigin}/callback`, "--post-logout-redirect-uris", `${rpOrigin}/bye`,
      "--scope", "openid", "--skip-consent",
      "--backchannel-logout-uri", `${rpOrigin}/backchannel`, "--backchannel-logout-session-required",
      "--frontchannel-logout-uri", `${rpOrigin}/frontchannel`, "--frontchannel-logout-session-required",
    ]);
    client = created;
    user = await server().createUser("rplogout");
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (rp ? rp.close(resolve) : resolve(undefined)));
  });

  it("the RP's front-channel page is framed with iss and sid, and its back-channel URI gets a valid logout token", async () => {
    const { page } = browser!;
    const issuer = new URL(server().issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
    expect(as).toMatchObject({ backchannel_logout_supported: true, frontchannel_logout_supported: true, frontchannel_logout_session_supported: true });

    // Sign in at the RP: code flow with PKCE, the user typing their password in the browser.
    const verifier = oauth.generateRandomCodeVerifier();
    const nonce = oauth.generateRandomNonce();
    const authorize = new URL(as.authorization_endpoint!);
    authorize.search = new URLSearchParams({
      response_type: "code", client_id: client.client_id, redirect_uri: `${rpOrigin}/callback`, scope: "openid",
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", nonce, state: "s1",
    }).toString();
    await page.goto(authorize.href);
    await page.fill("#username", user.username);
    await page.fill("#password", user.password);
    await Promise.all([page.waitForURL((url) => url.pathname === "/callback"), page.click("button[type=submit]")]);

    const rpClient: oauth.Client = { client_id: client.client_id };
    const auth = oauth.ClientSecretBasic(client.client_secret);
    const params = oauth.validateAuthResponse(as, rpClient, new URL(page.url()), "s1");
    const response = await oauth.authorizationCodeGrantRequest(as, rpClient, auth, params, `${rpOrigin}/callback`, verifier, http);
    const tokens = await oauth.processAuthorizationCodeResponse(as, rpClient, response, { expectedNonce: nonce, requireIdToken: true });
    const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(idToken.sid).toBeTypeOf("string");

    // RP-initiated logout, confirmed by the user; the sign-out page frames the RP, then returns to it.
    const logout = new URL(as.end_session_endpoint!);
    logout.search = new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${rpOrigin}/bye`, state: "bye-1" }).toString();
    await page.goto(logout.href);
    await Promise.all([page.waitForURL((url) => url.pathname === "/bye", { timeout: 20_000 }), page.click("button[name=logout]")]);
    expect(new URL(page.url()).searchParams.get("state")).toBe("bye-1");

    const framed = hits.filter((hit) => hit.path === "/frontchannel");
    expect(framed).toHaveLength(1);
    expect(Object.fromEntries(framed[0]!.query)).toEqual({ iss: server().issuer, sid: idToken.sid });
    // The front-channel frame loaded before the page moved on to /bye.
    expect(hits.findIndex((hit) => hit.path === "/frontchannel")).toBeLessThan(hits.findIndex((hit) => hit.path === "/bye"));

    await expect.poll(() => hits.filter((hit) => hit.path === "/backchannel").length, { timeout: 10_000 }).toBe(1);
    const posted = hits.find((hit) => hit.path === "/backchannel")!;
    expect(posted.contentType).toBe("application/x-www-form-urlencoded");
    const logoutToken = new URLSearchParams(posted.body).get("logout_token")!;
    const { payload, protectedHeader } = await jwtVerify(logoutToken, createRemoteJWKSet(new URL(as.jwks_uri!)), {
      issuer: server().issuer,
      audience: client.client_id,
      typ: "logout+jwt",
      maxTokenAge: 120,
    });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload).toMatchObject({ sub: user.id, sid: idToken.sid, events: { "http://schemas.openid.net/event/backchannel-logout": {} } });
    expect(payload.nonce).toBeUndefined();
    expect(payload.jti).toBeTypeOf("string");
  }, 60_000);
});

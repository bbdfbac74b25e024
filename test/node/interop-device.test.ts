/**
 * The Device Authorization Grant (RFC 8628) with oauth4webapi against `wrangler dev`: the device
 * side is the library (device authorization request, polling, the token response with its ID
 * token checked), the user's side is a user agent over HTTP (sign in, enter the code, decide).
 * The clients are made with the admin CLI, `--grant-types urn:ietf:params:oauth:grant-type:device_code`.
 */
import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, it } from "vitest";
import { useServer, type CreatedClient, type CreatedUser } from "./support/server";
import { parseForms, UserAgent, type Form } from "./support/user-agent";

const server = useServer();

// http on loopback only: oauth4webapi refuses http:// endpoints unless told; nothing else relaxed.
const http = { [oauth.allowInsecureRequests]: true } as const;
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

let as: oauth.AuthorizationServer;
let tv: CreatedClient;
let cli: CreatedClient;

beforeAll(async () => {
  [tv, cli] = await Promise.all([
    server().createClient({ name: "Interop TV", type: "public", grantTypes: [DEVICE_GRANT, "refresh_token"], scope: "read" }),
    server().createClient({ name: "Interop CLI", type: "confidential", grantTypes: [DEVICE_GRANT], scope: "read" }),
  ]);
  const issuer = new URL(server().issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...http }));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The one form of a page that posts (the verification page has one). */
function postForm(html: string): Form {
  const form = parseForms(html).find((f) => f.method === "post");
  if (!form) throw new Error(`no form on the page:\n${html.slice(0, 500)}`);
  return form;
}

async function page(agent: UserAgent, url: URL): Promise<{ url: URL; res: Response; html: string }> {
  const res = await agent.fetch(url);
  return { url, res, html: await res.text() };
}

/**
 * The user opens `verification_uri_complete`, signs in, submits the prefilled code, and decides.
 * Returns the confirmation page's HTML (what the user was shown) and the outcome page's.
 */
async function userDecides(codes: oauth.DeviceAuthorizationResponse, user: CreatedUser, decision: "approve" | "deny") {
  const agent = new UserAgent();
  const start = await agent.fetch(codes.verification_uri_complete!);
  expect(start.status).toBe(303);
  const login = await page(agent, new URL(start.headers.get("location")!, codes.verification_uri));
  const signed = await agent.submit(login.url, postForm(login.html), { username: user.username, password: user.password }, login);
  expect(signed.status).toBe(303);
  const entry = await page(agent, new URL(signed.headers.get("location")!, codes.verification_uri));
  expect(entry.res.status).toBe(200);
  expect(entry.html).toContain(`value="${codes.user_code}"`);
  const confirmation = await agent.submit(entry.url, postForm(entry.html), { user_code: codes.user_code }, entry);
  const confirmHtml = await confirmation.text();
  expect(confirmation.status, confirmHtml).toBe(200);
  const confirmPage = { url: new URL(codes.verification_uri), res: confirmation, html: confirmHtml };
  const outcome = await agent.submit(confirmPage.url, postForm(confirmHtml), { decision }, confirmPage);
  expect(outcome.status).toBe(200);
  return { confirmHtml, outcomeHtml: await outcome.text() };
}

/** Polls as a device does: waits `interval`, and 5 s more after each `slow_down` (RFC 8628 §3.5). */
async function pollUntilDecided(client: oauth.Client, auth: oauth.ClientAuth, codes: oauth.DeviceAuthorizationResponse) {
  let interval = codes.interval ?? 5;
  for (let attempt = 0; attempt < 6; attempt++) {
    try {
      const res = await oauth.deviceCodeGrantRequest(as, client, auth, codes.device_code, http);
      return await oauth.processDeviceCodeResponse(as, client, res);
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err;
      if (err.error === "slow_down") interval += 5;
      else if (err.error !== "authorization_pending") throw err;
    }
    await sleep(interval * 1000 + 100);
  }
  throw new Error("still pending");
}

async function expectPollError(client: oauth.Client, auth: oauth.ClientAuth, deviceCode: string, error: string) {
  const res = await oauth.deviceCodeGrantRequest(as, client, auth, deviceCode, http);
  const failure = await oauth.processDeviceCodeResponse(as, client, res).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(oauth.ResponseBodyError);
  expect((failure as oauth.ResponseBodyError).error).toBe(error);
}

describe("oauth4webapi: device authorization grant", () => {
  it("metadata advertises the device authorization endpoint and the grant", () => {
    expect(as.device_authorization_endpoint).toBe(`${server().issuer}/device_authorization/`);
    expect(as.grant_types_supported).toContain(DEVICE_GRANT);
    // Made with `client create --grant-types urn:ietf:params:oauth:grant-type:device_code,refresh_token`.
    expect(tv.grant_types).toEqual([DEVICE_GRANT, "refresh_token"]);
    expect(cli.grant_types).toEqual([DEVICE_GRANT]);
  });

  it("a public client: codes, pending, the user approves, tokens with a checked ID token; a second redemption fails", async () => {
    const client: oauth.Client = { client_id: tv.client_id };
    const auth = oauth.None();
    const res = await oauth.deviceAuthorizationRequest(as, client, auth, { scope: "openid read" }, http);
    const codes = await oauth.processDeviceAuthorizationResponse(as, client, res);
    expect(codes.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(codes.verification_uri).toBe(`${server().issuer}/device/`);
    expect(codes.expires_in).toBe(600);
    await expectPollError(client, auth, codes.device_code, "authorization_pending");

    const user = await server().createUser("device");
    const { confirmHtml, outcomeHtml } = await userDecides(codes, user, "approve");
    expect(confirmHtml).toContain("Interop TV");
    expect(confirmHtml).toContain(codes.user_code);
    expect(outcomeHtml).toContain("Device connected");

    const tokens = await pollUntilDecided(client, auth, codes);
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.scope).toBe("openid read");
    expect(tokens.refresh_token).toBeTruthy();
    const claims = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(claims.sub).toBe(user.id);
    expect(claims.aud).toBe(tv.client_id);

    await expectPollError(client, auth, codes.device_code, "invalid_grant");
    // The refresh token works with the library's refresh request.
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, http),
    );
    expect(refreshed.access_token).toBeTruthy();
  }, 60_000);

  it("a confidential client (client_secret_basic): the user denies, the poll gets access_denied", async () => {
    const client: oauth.Client = { client_id: cli.client_id };
    const auth = oauth.ClientSecretBasic(cli.client_secret!);
    const codes = await oauth.processDeviceAuthorizationResponse(as, client, await oauth.deviceAuthorizationRequest(as, client, auth, { scope: "read" }, http));
    const user = await server().createUser("device");
    const { outcomeHtml } = await userDecides(codes, user, "deny");
    expect(outcomeHtml).toContain("Request denied");
    await expectPollError(client, auth, codes.device_code, "access_denied");
  }, 60_000);

  it("polling faster than the interval: slow_down", async () => {
    const client: oauth.Client = { client_id: tv.client_id };
    const auth = oauth.None();
    const codes = await oauth.processDeviceAuthorizationResponse(as, client, await oauth.deviceAuthorizationRequest(as, client, auth, { scope: "read" }, http));
    await expectPollError(client, auth, codes.device_code, "authorization_pending");
    await expectPollError(client, auth, codes.device_code, "slow_down");
  });
});

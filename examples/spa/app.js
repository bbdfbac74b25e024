/**
 * The example SPA: authorization code + PKCE from the browser with oauth4webapi, as a public client
 * (no secret). Steps, in the order the specs list them:
 *
 *  1. config.json (issuer, client_id, scope, api) and the issuer's discovery document.
 *  2. Sign in: a PKCE verifier (S256), state and nonce, kept in sessionStorage for the one redirect
 *     (they must survive it), then to the authorization endpoint.
 *  3. Back here with ?code&state&iss: the response is checked against the pending state (and iss),
 *     the code redeemed with the verifier, the ID token's claims checked (issuer, audience, nonce,
 *     expiry) — all by the library. The pending request is removed first: it is good for one try.
 *  4. UserInfo (its `sub` must be the ID token's) and the protected API with the access token.
 *  5. Refresh: a refresh_token grant; the server rotates the refresh token, the old one is spent.
 *
 * Every token request and every use of the access token carries a DPoP proof (RFC 9449) signed by
 * a key pair made in this tab when the code is redeemed (non-extractable: no script can copy the
 * private key out): the tokens are bound to it (`token_type: DPoP`, `cnf.jkt`), so a token stolen
 * from the page or the network is useless elsewhere, and the refresh token works only with it.
 *  6. Sign out: the refresh token is revoked, then RP-initiated logout at the end_session_endpoint
 *     with id_token_hint and post_logout_redirect_uri, which comes back here.
 *
 * Tokens are kept in this module's memory only: a reload forgets them (sign in again; the
 * provider's session makes that one click). Nothing on the page is built from HTML strings.
 */
import * as oauth from "./vendor/oauth4webapi.js";

/** sessionStorage key of the request in flight (sign-in or sign-out): only what the redirect must carry. */
const PENDING_KEY = "example-spa:pending";

const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element;
};

/** @type {{ issuer: string, client_id: string, scope: string, api: string, redirect_uri: string, post_logout_redirect_uri: string }} */
let config;
/** @type {oauth.AuthorizationServer} */
let as;
/** @type {oauth.Client} */
let client;
/** Options for every request: plain http only to a loopback issuer (npm start's). */
let http = {};

/** What we hold while signed in (memory only), with the DPoP handle its tokens are bound to. */
let session;

/**
 * Runs a request that carries a DPoP proof; when the server asks for a nonce (`use_dpop_nonce`),
 * once more: the library keeps the nonce it was given in the handle.
 */
async function withDPoPNonce(run) {
  try {
    return await run();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return run();
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration and discovery

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const loaded = await response.json();
  for (const field of ["issuer", "client_id", "scope", "api"]) {
    if (typeof loaded[field] !== "string" || loaded[field] === "") throw new Error(`config.json: "${field}" is missing`);
  }
  // Redirects come back to this page (its URL without query or fragment) unless configured otherwise.
  const here = `${location.origin}${location.pathname}`;
  return { redirect_uri: here, post_logout_redirect_uri: here, ...loaded };
}

async function discover(issuer) {
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...http });
  return oauth.processDiscoveryResponse(issuer, response);
}

// ---------------------------------------------------------------------------------------------
// The pending request: written before leaving the page, read (and removed) once on return.

function savePending(pending) {
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
}

function takePending() {
  const saved = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (!saved) return undefined;
  try {
    return JSON.parse(saved);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The flow

async function signIn() {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  savePending({ kind: "sign-in", verifier, state, nonce });
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: config.redirect_uri,
    scope: config.scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.href);
}

/** Step 3: this page was opened as the redirect URI, with `callback` the URL it got. */
async function completeSignIn(callback, pending) {
  if (pending?.kind !== "sign-in") {
    throw new Error("An authorization response arrived, but no sign-in is pending in this tab. Start again with Sign in.");
  }
  // Checks `state` and `iss`, and turns ?error=… into an AuthorizationResponseError.
  const params = oauth.validateAuthResponse(as, client, callback, pending.state);
  const dpop = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  const tokens = await withDPoPNonce(async () => {
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, config.redirect_uri, pending.verifier, { ...http, DPoP: dpop });
    return oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: pending.nonce, requireIdToken: true });
  });
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  session = { tokens, claims, expiresAt: expiry(tokens), refreshes: 0, dpop, jkt: await dpop.calculateThumbprint() };
  render();
  await Promise.all([loadUserInfo(), callApi()]);
}

async function loadUserInfo() {
  const info = await withDPoPNonce(async () => {
    const response = await oauth.userInfoRequest(as, client, session.tokens.access_token, { ...http, DPoP: session.dpop });
    return oauth.processUserInfoResponse(as, client, session.claims.sub, response);
  });
  session.userinfo = info;
  setStatus(signedInAs());
  $("userinfo").textContent = JSON.stringify(info, null, 2);
  $("userinfo-section").hidden = false;
}

async function callApi() {
  const token = session.tokens.access_token;
  // A 401 with a challenge throws (a resource server asking for a DPoP nonce gets one more try).
  const response = await withDPoPNonce(() =>
    oauth.protectedResourceRequest(token, "GET", new URL(config.api), undefined, undefined, { ...http, DPoP: session.dpop }),
  );
  const body = await response.text();
  let shown = body;
  try {
    shown = JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    // not JSON: shown as it came
  }
  $("api-request").textContent = `GET ${config.api} with access token ${tail(token)}: HTTP ${response.status} at ${clock(new Date())}`;
  $("api").textContent = shown;
  $("api").dataset.status = String(response.status);
  $("api-section").hidden = false;
  if (!response.ok) throw new Error(`The API answered HTTP ${response.status}`);
}

async function refresh() {
  const before = session.tokens;
  const tokens = await withDPoPNonce(async () => {
    const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), before.refresh_token, { ...http, DPoP: session.dpop });
    return oauth.processRefreshTokenResponse(as, client, response);
  });
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  // OIDC Core §12.2: a refreshed ID token is about the same user.
  if (claims && claims.sub !== session.claims.sub) throw new Error("The refreshed ID token names another user.");
  session = {
    tokens: { ...tokens, refresh_token: tokens.refresh_token ?? before.refresh_token, id_token: tokens.id_token ?? before.id_token },
    claims: claims ?? session.claims,
    expiresAt: expiry(tokens),
    refreshes: session.refreshes + 1,
    userinfo: session.userinfo,
    dpop: session.dpop,
    jkt: session.jkt,
  };
  $("refresh-result").textContent =
    `Refreshed at ${clock(new Date())}: access token ${tail(before.access_token)} → ${tail(tokens.access_token)}` +
    (tokens.refresh_token ? "; a new refresh token too (the old one is now spent)." : ".");
  render();
}

async function signOut() {
  const { tokens } = session;
  // The refresh token would outlive the provider's session: revoke it first (best effort).
  if (as.revocation_endpoint && tokens.refresh_token) {
    try {
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), tokens.refresh_token, http));
    } catch (error) {
      console.warn("Revoking the refresh token failed", error);
    }
  }
  session = undefined;
  if (!as.end_session_endpoint) {
    render();
    setStatus("Signed out of this page (the provider has no end_session_endpoint).");
    return;
  }
  const state = oauth.generateRandomState();
  savePending({ kind: "sign-out", state });
  const url = new URL(as.end_session_endpoint);
  url.search = new URLSearchParams({
    id_token_hint: tokens.id_token,
    client_id: client.client_id,
    post_logout_redirect_uri: config.post_logout_redirect_uri,
    state,
  }).toString();
  location.assign(url.href);
}

// ---------------------------------------------------------------------------------------------
// The page

const tail = (token) => `…${token.slice(-8)}`;
const clock = (date) => date.toLocaleTimeString([], { hour12: false });
const expiry = (tokens) => (typeof tokens.expires_in === "number" ? new Date(Date.now() + tokens.expires_in * 1000) : undefined);

/** The user's name from UserInfo (the ID token carries `sub`; profile claims come from UserInfo), else `sub`. */
function signedInAs() {
  return `Signed in as ${session.userinfo?.preferred_username ?? session.claims.preferred_username ?? session.claims.sub}.`;
}

function setStatus(text) {
  $("status").textContent = text;
}

function showError(error) {
  console.error(error);
  const box = $("error");
  box.replaceChildren();
  const title = document.createElement("strong");
  title.textContent = "Something went wrong: ";
  const message = document.createElement("span");
  // oauth4webapi's errors carry the server's OAuth error (error, error_description) or a code.
  const oauthError = error?.error ? `${error.error}${error.error_description ? `: ${error.error_description}` : ""}` : undefined;
  message.textContent = oauthError ?? (error instanceof Error ? error.message : String(error));
  box.append(title, message);
  if (error?.code) {
    const code = document.createElement("code");
    code.textContent = ` (${error.code})`;
    box.append(code);
  }
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

function row(name, value) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.scope = "row";
  th.textContent = name;
  const td = document.createElement("td");
  td.textContent = value;
  tr.append(th, td);
  return tr;
}

/** Claim values as text; the time claims with their date. */
function claimText(name, value) {
  if (["iat", "exp", "auth_time", "nbf", "updated_at"].includes(name) && typeof value === "number") {
    return `${value} (${new Date(value * 1000).toISOString().replace(".000", "")})`;
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

function fact(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function render() {
  const signedIn = session !== undefined;
  $("sign-in").hidden = signedIn;
  for (const id of ["call-api", "refresh", "sign-out"]) $(id).hidden = !signedIn;
  $("refresh").disabled = !session?.tokens.refresh_token;
  for (const id of ["session", "claims-section"]) $(id).hidden = !signedIn;
  if (!signedIn) {
    for (const id of ["userinfo-section", "api-section"]) $(id).hidden = true;
    $("claims").tBodies[0].replaceChildren();
    $("token").replaceChildren();
    $("refresh-result").textContent = "";
    return;
  }
  const { tokens, claims } = session;
  setStatus(signedInAs());
  $("claims").tBodies[0].replaceChildren(...Object.entries(claims).map(([name, value]) => row(name, claimText(name, value))));
  const list = $("token");
  list.replaceChildren();
  fact(list, "Token", tail(tokens.access_token));
  fact(list, "Type", tokens.token_type === "dpop" ? `DPoP, bound to key ${session.jkt}` : tokens.token_type);
  fact(list, "Scope", tokens.scope ?? config.scope);
  fact(list, "Expires", session.expiresAt ? `${clock(session.expiresAt)} (in ${tokens.expires_in} s)` : "not said");
  fact(list, "Refresh token", tokens.refresh_token ? "held in memory" : "none");
  fact(list, "Refreshed", `${session.refreshes} time${session.refreshes === 1 ? "" : "s"}`);
}

/** Runs a button's action with the buttons disabled, showing any failure. */
function action(id, run) {
  $(id).addEventListener("click", async () => {
    const buttons = document.querySelectorAll(".actions button");
    for (const button of buttons) button.disabled = true;
    clearError();
    try {
      await run();
    } catch (error) {
      showError(error);
    } finally {
      for (const button of buttons) button.disabled = false;
      if (session) $("refresh").disabled = !session.tokens.refresh_token;
    }
  });
}

async function main() {
  config = await loadConfig();
  const issuer = new URL(config.issuer);
  http = issuer.protocol === "http:" && LOOPBACK.has(issuer.hostname) ? { [oauth.allowInsecureRequests]: true } : {};
  client = { client_id: config.client_id };
  $("issuer").textContent = config.issuer;
  $("client-id").textContent = config.client_id;
  as = await discover(issuer);

  action("sign-in", signIn);
  action("call-api", callApi);
  action("refresh", refresh);
  action("sign-out", signOut);

  // Back from the authorization or end-session endpoint? The code in the URL is single-use and
  // must not stay in the history; the pending request is read once, whatever happens next.
  const here = new URL(location.href);
  const returned = here.searchParams.has("code") || here.searchParams.has("error") || here.searchParams.has("state");
  const pending = returned ? takePending() : undefined;
  if (returned) history.replaceState(null, "", `${location.pathname}`);

  render();
  setStatus("Signed out.");
  if (returned && pending?.kind === "sign-out" && !here.searchParams.has("code")) {
    if (here.searchParams.get("state") !== pending.state) throw new Error("The sign-out came back with another state.");
    setStatus("Signed out, here and at the provider.");
  } else if (returned) {
    setStatus("Completing the sign-in…");
    await completeSignIn(here, pending);
  }
}

main().catch((error) => {
  render();
  if (!session) setStatus("Signed out.");
  // Without the discovery document there is nothing to sign in to.
  if (!as) $("sign-in").hidden = true;
  showError(error);
});

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { listAuthorizations } from "../db/authorizations";
import { listRecentEvents, namesOfEvents, RECORDED_EVENT_TYPES } from "../db/audit-events";
import { countClients, findClient, forgetCachedClient, listClients } from "../db/clients";
import { MAX_SECRET_GRACE_SECONDS, parseSecretGrace, registerClient, registerUser, rotateClientSecret, userRegistrationSchema, type ClientRegistration } from "../db/registration";
import { GRANT_TYPES, type AuditEvent, type Client, type User } from "../db/schema";
import { countUsers, findUserById, findUserByUsername, listUsers, setUserActive } from "../db/users";
import { nowSeconds } from "../core/time";
import { clientFormErrors, clientFormOfParams, EMPTY_CLIENT_FORM, hasErrors, registrationOfForm, type FieldErrors } from "../oauth/client-form";
import { OAuthError } from "../oauth/errors";
import { readFormBody, type Params } from "../oauth/form";
import type { Account } from "../session/accounts";
import { checkCsrf, csrfToken, CSRF_FIELD } from "../session/cookies";
import { signedInAccount } from "../session/signed-in";
import { changeUserPassword, disableUser, endUserAccess, revokeClientTokens } from "../tokens/operator-actions";
import { sendLogoutTokensAfterResponse } from "../oidc/backchannel-logout";
import { deleteClientAndTokens } from "../tokens/revocation";
import { signingKeyFor } from "../tokens/keys";
import { listAllSigningKeys } from "../db/signing-keys";
import { SIGNING_ALGORITHMS } from "../core/protocol";
import {
  addDatabaseKey,
  databaseKeyRoles,
  databaseKeySigns,
  KeyChangeRefused,
  longestSignedLifetime,
  opensWithSecret,
  promoteDatabaseKey,
  PROMOTION_DELAY_SECONDS,
  retireDatabaseKey,
  retirableFrom,
} from "../tokens/database-keys";
import { clientSecretSealer, rotationSealer } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";
import { ApplicationFormPage, type ApplicationFormValues } from "../views/application-pages";
import {
  ClientDeletePage,
  ClientDetailPage,
  ClientListPage,
  ConsoleFrame,
  ConsoleHomePage,
  ConsoleMessagePage,
  EventsPage,
  KeysPage,
  DatabaseKeysPage,
  UserDetailPage,
  UserFormPage,
  UserListPage,
  type ConsoleClientView,
  type ConsoleUserView,
  type EventView,
  type UserField,
  type RingKeyView,
} from "../views/console-pages";
import { sendPage, type HtmlContent } from "../views/render";

/**
 * The operator console (`{basePath}/admin/...`), Django admin's part of DOT: every client, the
 * users, the signing keys and the recent events. Off unless OPERATOR_CONSOLE is on (then 404);
 * for signed-in users with the operator role whose sign-in is at most OPERATOR_REAUTH_SECONDS old
 * (others sign in again first). Changes are POSTs with a CSRF token and do what the admin CLI's
 * commands do, through the same functions (`tokens/operator-actions.ts`, `db/registration.ts`).
 */

type Ctx = Context<ProviderEnv>;
type Handler = (c: Ctx, operator: Account) => Promise<Response>;

const consoleBase = (c: Ctx) => `${c.get("basePath")}/admin`;
const clientPath = (c: Ctx, id: string) => `${consoleBase(c)}/clients/${encodeURIComponent(id)}/`;
const userPath = (c: Ctx, id: string) => `${consoleBase(c)}/users/${encodeURIComponent(id)}/`;

/** What a change did, named on the page it leads to: a fixed code in the URL, never free text. */
const NOTICES: Record<string, string> = {
  tokens_revoked: "Its refresh tokens are revoked, and its access tokens issued until now (elsewhere within about 60 s).",
  client_deleted: "The client is deleted.",
  user_created: "The user is created.",
  user_disabled: "The user is disabled: they cannot sign in; their sessions ended and their tokens are revoked.",
  user_enabled: "The user may sign in again.",
  password_changed: "The password is changed; their sessions ended and their tokens are revoked.",
  signed_out: "Every session of this user ended.",
  signed_out_revoked: "Every session of this user ended and their tokens are revoked.",
};

const noticeOf = (c: Ctx) => NOTICES[c.req.query("done") ?? ""];
const withNotice = (path: string, notice: keyof typeof NOTICES) => `${path}?done=${notice}`;

const send = (c: Ctx, page: unknown, status: ContentfulStatusCode = 200) => sendPage(c, page as HtmlContent, status);

async function hidden(c: Ctx): Promise<Record<string, string>> {
  return { [CSRF_FIELD]: await csrfToken(c, c.var.secret(), c.get("settings").SESSION_COOKIE_AGE_SECONDS) };
}

function message(c: Ctx, operator: Account | undefined, status: ContentfulStatusCode, title: string, text: string): Promise<Response> {
  return send(c, ConsoleMessagePage({ base: consoleBase(c), operator: operator?.username, title, message: text }), status);
}

/** To the login page and back: a GET comes back to itself, a POST to the console's front page. */
function toLogin(c: Ctx, loginHint?: string): Response {
  const path = new URL(c.req.url).pathname;
  const next = c.req.method === "GET" ? (path.endsWith("/") ? path : `${path}/`) : `${consoleBase(c)}/`;
  const query = new URLSearchParams({ next, ...(loginHint ? { login_hint: loginHint } : {}) });
  return c.redirect(`${c.get("basePath")}/login/?${query.toString()}`, 303);
}

/**
 * Runs `handle` for an operator signed in recently enough. The session is read at the primary: a
 * user disabled or stripped of the role a moment ago is refused at once.
 */
function forOperator(handle: Handler) {
  return async (c: Ctx): Promise<Response> => {
    const settings = c.get("settings");
    if (!settings.OPERATOR_CONSOLE) return c.notFound();
    const signedIn = await signedInAccount(c, c.var);
    if (!signedIn) return toLogin(c);
    const account = signedIn.account;
    if (account.operator !== true) {
      return message(c, undefined, 403, "Operators only", `You are signed in as ${account.username}, who is not an operator of this server.`);
    }
    if (nowSeconds() - signedIn.session.authTime > settings.OPERATOR_REAUTH_SECONDS) return toLogin(c, account.username);
    return handle(c, account);
  };
}

/** The posted form, when it is well formed and carries this browser's CSRF token; else the page saying why. */
async function checkedForm(c: Ctx, operator: Account): Promise<Params | Response> {
  let params: Params;
  try {
    params = await readFormBody(c.req.raw, c.get("settings").MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof OAuthError) return message(c, operator, 400, "Nothing was changed", err.description);
    throw err;
  }
  if (!(await checkCsrf(c, c.var.secret(), params.get(CSRF_FIELD)))) {
    return message(c, operator, 403, "Nothing was changed", "The form expired or did not come from this site. Please go back, reload the page and try again.");
  }
  return params;
}

/** A POST handler: `handle` gets the checked form. */
function postForOperator(handle: (c: Ctx, operator: Account, params: Params) => Promise<Response>) {
  return forOperator(async (c, operator) => {
    const params = await checkedForm(c, operator);
    return params instanceof Response ? params : handle(c, operator, params);
  });
}

// ---- events -------------------------------------------------------------------------------

/** Events as the tables show them: names for ids still known, links to their pages. */
async function eventViews(c: Ctx, events: AuditEvent[]): Promise<EventView[]> {
  if (events.length === 0) return [];
  const names = await namesOfEvents(c.get("db"), events);
  return events.map((e) => {
    const userName = e.userId ? names.users.get(e.userId) : undefined;
    const clientName = e.clientId ? names.clients.get(e.clientId) : undefined;
    const detail = e.detail ? Object.entries(e.detail).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ") : "";
    return {
      at: e.at,
      type: e.type,
      ...(e.userId ? { user: userName ? { name: userName, href: userPath(c, e.userId) } : { name: e.userId } } : {}),
      ...(e.clientId ? { client: clientName ? { name: clientName, href: clientPath(c, e.clientId) } : { name: e.clientId } } : {}),
      ...(e.operatorId ? { operator: names.users.get(e.operatorId) ?? e.operatorId } : {}),
      detail,
    };
  });
}

/** `GET {basePath}/admin/`: counts and the latest events. */
export const consoleHome = forOperator(async (c, operator) => {
  const db = c.get("db");
  const [clients, users, ring, events] = await Promise.all([countClients(db), countUsers(db), c.var.keys(), listRecentEvents(db, 10)]);
  const page = ConsoleHomePage({
    base: consoleBase(c),
    operator: operator.username,
    counts: { clients, users, keys: ring.keys.length },
    events: await eventViews(c, events),
  });
  return send(c, page);
});

/** `GET {basePath}/admin/events/?type=…`: the latest 200, of one type if asked. */
export const consoleEvents = forOperator(async (c, operator) => {
  const asked = c.req.query("type");
  const type = RECORDED_EVENT_TYPES.find((t) => t === asked);
  const events = await listRecentEvents(c.get("db"), 200, type ? { type } : {});
  const page = EventsPage({
    base: consoleBase(c),
    operator: operator.username,
    events: await eventViews(c, events),
    types: [...RECORDED_EVENT_TYPES],
    ...(type ? { type } : {}),
    keptDays: c.get("settings").EVENT_HISTORY_DAYS,
  });
  return send(c, page);
});

// ---- clients ------------------------------------------------------------------------------

function clientView(client: Client, owner?: { name: string; href: string }): ConsoleClientView {
  const grace = client.previousSecretHash !== null && client.previousSecretExpiresAt !== null && client.previousSecretExpiresAt > nowSeconds();
  return {
    id: client.id,
    name: client.name,
    clientType: client.clientType,
    applicationType: client.applicationType,
    source: client.source,
    ...(owner ? { owner } : {}),
    grantTypes: client.grantTypes,
    redirectUris: client.redirectUris,
    postLogoutRedirectUris: client.postLogoutRedirectUris,
    allowedOrigins: client.allowedOrigins,
    resources: client.resources,
    scope: client.scope,
    skipAuthorization: client.skipAuthorization,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    ...(grace ? { previousSecretUntil: client.previousSecretExpiresAt! } : {}),
    createdAt: client.createdAt,
  };
}

/** Runs `handle` with the client the path names; any other id is a 404 page. */
function forClient(handle: (c: Ctx, operator: Account, client: Client, params?: Params) => Promise<Response>, post = false) {
  const withClient = async (c: Ctx, operator: Account, params?: Params) => {
    const client = await findClient(c.get("db"), c.req.param("clientId") ?? "");
    if (!client) return message(c, operator, 404, "Not found", "There is no client with this client ID.");
    return handle(c, operator, client, params);
  };
  return post ? postForOperator(withClient) : forOperator((c, operator) => withClient(c, operator));
}

async function showClient(c: Ctx, operator: Account, client: Client, secret?: string, notice?: string, status: ContentfulStatusCode = 200) {
  const owner = client.userId ? await findUserById(c.get("db"), client.userId) : undefined;
  const page = ClientDetailPage({
    base: consoleBase(c),
    operator: operator.username,
    client: clientView(client, owner ? { name: owner.username, href: userPath(c, owner.id) } : undefined),
    hidden: await hidden(c),
    ...(secret !== undefined ? { secret } : {}),
    ...(notice ? { notice } : {}),
    defaultGraceSeconds: c.get("settings").CLIENT_CACHE_SECONDS,
  });
  return send(c, page, status);
}

/** `GET {basePath}/admin/clients/`. */
export const consoleClients = forOperator(async (c, operator) => {
  const clients = await listClients(c.get("db"));
  const page = ClientListPage({ base: consoleBase(c), operator: operator.username, clients: clients.map((client) => clientView(client)), notice: noticeOf(c) });
  return send(c, page);
});

const NEW_CLIENT: ApplicationFormValues = { ...EMPTY_CLIENT_FORM, resources: "", tokenEndpointAuthMethod: "" };

async function showClientForm(c: Ctx, operator: Account, values: ApplicationFormValues, errors: FieldErrors) {
  const base = consoleBase(c);
  const page = ApplicationFormPage({
    title: "Register a client",
    action: `${base}/clients/new/`,
    back: `${base}/clients/`,
    csrf: await hidden(c),
    values,
    errors,
    grantChoices: GRANT_TYPES,
    knownScopes: ["openid", "profile", "email", ...Object.keys(c.get("settings").SCOPES)],
    maySkipConsent: true,
    submitLabel: "Register",
    operator: true,
    frame: (props) => ConsoleFrame({ base, operator: operator.username, section: "clients", ...props }),
  });
  return send(c, page, hasErrors(errors) ? 400 : 200);
}

/** `GET {basePath}/admin/clients/new/`. */
export const consoleClientForm = forOperator((c, operator) => showClientForm(c, operator, NEW_CLIENT, {}));

/** `POST {basePath}/admin/clients/new/`: `client create`, by the same schema; the secret is shown this once. */
export const consoleClientCreate = postForOperator(async (c, operator, params) => {
  const values = clientFormOfParams(params, GRANT_TYPES, true);
  const input: ClientRegistration = registrationOfForm(values);
  const errors = clientFormErrors(input, { operator: true });
  if (hasErrors(errors)) return showClientForm(c, operator, values, errors);
  // client_secret_jwt: the secret is its HMAC key, so it is also kept sealed under SECRET_KEY.
  const sealSecret = input.tokenEndpointAuthMethod === "client_secret_jwt" ? clientSecretSealer(c.var.secret()) : undefined;
  const { client, clientSecret } = await registerClient(c.get("db"), input, { sealSecret });
  c.get("emit")({ type: "client.registered", clientId: client.id, source: "operator", operatorId: operator.id });
  return showClient(c, operator, client, clientSecret ?? undefined, undefined, 201);
});

/** `GET {basePath}/admin/clients/{client_id}/`. */
export const consoleClient = forClient((c, operator, client) => showClient(c, operator, client, undefined, noticeOf(c)));

/** `POST …/rotate-secret/`: `client rotate-secret --grace-seconds N`. */
export const consoleClientRotateSecret = forClient(async (c, operator, client, params) => {
  if (client.clientType !== "confidential") return message(c, operator, 400, "Nothing was changed", "A public client has no secret.");
  const grace = parseSecretGrace(params!.get("grace_seconds") ?? "");
  if (grace === undefined) {
    return message(c, operator, 400, "Nothing was changed", `The grace must be a whole number of seconds from 0 to ${MAX_SECRET_GRACE_SECONDS} (30 days).`);
  }
  const rotated = await rotateClientSecret(c.get("db"), client.id, grace, undefined, rotationSealer(client, c.var.secret));
  if (!rotated) return message(c, operator, 404, "Not found", "There is no client with this client ID.");
  forgetCachedClient(client.id);
  c.get("emit")({ type: "client.secret_rotated", clientId: client.id, source: "operator", operatorId: operator.id });
  const fresh = (await findClient(c.get("db"), client.id)) ?? client;
  const until = rotated.previousSecretExpiresAt;
  const notice = until === null ? "The previous secret no longer works." : `The previous secret works until ${new Date(until * 1000).toISOString()}.`;
  return showClient(c, operator, fresh, rotated.secret, notice);
}, true);

/** `POST …/revoke-tokens/`: `client revoke-tokens`. */
export const consoleClientRevokeTokens = forClient(async (c, operator, client) => {
  await revokeClientTokens({ db: c.get("db"), kv: c.get("kv") }, client.id, c.get("settings"));
  c.get("emit")({ type: "client.tokens_revoked", clientId: client.id, source: "operator", operatorId: operator.id });
  return c.redirect(withNotice(clientPath(c, client.id), "tokens_revoked"), 303);
}, true);

/** `GET …/delete/`: asks first. */
export const consoleClientDeleteForm = forClient(async (c, operator, client) =>
  send(c, ClientDeletePage({ base: consoleBase(c), operator: operator.username, client: clientView(client), hidden: await hidden(c) })),
);

/** `POST …/delete/`: `client delete`. */
export const consoleClientDelete = forClient(async (c, operator, client) => {
  await deleteClientAndTokens({ db: c.get("db"), kv: c.get("kv") }, client.id, c.get("settings"));
  c.get("emit")({ type: "client.deleted", clientId: client.id, source: "operator", operatorId: operator.id });
  return c.redirect(withNotice(`${consoleBase(c)}/clients/`, "client_deleted"), 303);
}, true);

// ---- users --------------------------------------------------------------------------------

const userView = (user: User): ConsoleUserView => ({
  id: user.id,
  username: user.username,
  email: user.email,
  isActive: user.isActive,
  isOperator: user.isOperator,
  createdAt: user.createdAt,
});

/** The built-in users table only: a host's own account store manages its users itself. */
const usersElsewhere = (c: Ctx, operator: Account) =>
  c.get("accounts").usersTable === true
    ? undefined
    : message(c, operator, 404, "Users are managed elsewhere", "This server's users come from its own account store, not the built-in users table.");

/** Runs `handle` with the user the path names; any other id is a 404 page. */
function forUser(handle: (c: Ctx, operator: Account, user: User, params?: Params) => Promise<Response>, post = false) {
  const withUser = async (c: Ctx, operator: Account, params?: Params) => {
    const elsewhere = usersElsewhere(c, operator);
    if (elsewhere) return elsewhere;
    const user = await findUserById(c.get("db"), c.req.param("userId") ?? "");
    if (!user) return message(c, operator, 404, "Not found", "There is no user with this id.");
    return handle(c, operator, user, params);
  };
  return post ? postForOperator(withUser) : forOperator((c, operator) => withUser(c, operator));
}

/** `GET {basePath}/admin/users/`. */
export const consoleUsers = forOperator(async (c, operator) => {
  const elsewhere = usersElsewhere(c, operator);
  if (elsewhere) return elsewhere;
  const users = await listUsers(c.get("db"));
  return send(c, UserListPage({ base: consoleBase(c), operator: operator.username, users: users.map(userView) }));
});

interface NewUserValues {
  username: string;
  email: string;
  operator: boolean;
}

async function showUserForm(c: Ctx, operator: Account, values: NewUserValues, errors: Partial<Record<UserField, string[]>>) {
  const page = UserFormPage({ base: consoleBase(c), operator: operator.username, hidden: await hidden(c), values, errors });
  return send(c, page, Object.keys(errors).length > 0 ? 400 : 200);
}

/** `GET {basePath}/admin/users/new/`. */
export const consoleUserForm = forOperator(
  (c, operator) => usersElsewhere(c, operator) ?? showUserForm(c, operator, { username: "", email: "", operator: false }, {}),
);

/** `POST {basePath}/admin/users/new/`: `user create`, by the same schema. */
export const consoleUserCreate = postForOperator(async (c, operator, params) => {
  const elsewhere = usersElsewhere(c, operator);
  if (elsewhere) return elsewhere;
  const values = { username: (params.get("username") ?? "").trim(), email: (params.get("email") ?? "").trim(), operator: params.has("operator") };
  const input = { username: values.username, password: params.get("password") ?? "", email: values.email || undefined, operator: values.operator };
  const errors: Partial<Record<UserField, string[]>> = {};
  const checked = userRegistrationSchema.safeParse(input);
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      const field = String(issue.path[0]) as UserField;
      (errors[field] ??= []).push(issue.code === "too_small" && field === "username" ? "Enter a username." : issue.message);
    }
  } else if (await findUserByUsername(c.get("db"), checked.data.username)) {
    errors.username = ["A user with this username exists."];
  }
  if (!checked.success || Object.keys(errors).length > 0) return showUserForm(c, operator, values, errors);
  const user = await registerUser(c.get("db"), checked.data);
  c.get("emit")({ type: "user.created", userId: user.id, operatorId: operator.id });
  return c.redirect(withNotice(userPath(c, user.id), "user_created"), 303);
});

async function showUser(c: Ctx, operator: Account, user: User, extra: { notice?: string; passwordErrors?: string[] } = {}, status: ContentfulStatusCode = 200) {
  const db = c.get("db");
  const [authorizations, events] = await Promise.all([listAuthorizations(db, user.id, nowSeconds()), listRecentEvents(db, 10, { userId: user.id })]);
  const page = UserDetailPage({
    base: consoleBase(c),
    operator: operator.username,
    user: userView(user),
    hidden: await hidden(c),
    authorizations: authorizations.map((a) => ({
      clientName: a.clientName,
      clientHref: clientPath(c, a.clientId),
      scope: a.scopes.join(" "),
      authorizedAt: a.authorizedAt,
    })),
    events: await eventViews(c, events),
    isSelf: user.id === operator.id,
    ...extra,
  });
  return send(c, page, status);
}

/** `GET {basePath}/admin/users/{user_id}/`. */
export const consoleUser = forUser((c, operator, user) => showUser(c, operator, user, { notice: noticeOf(c) }));

const stores = (c: Ctx) => ({ db: c.get("db"), kv: c.get("kv") });

/** An operator does not disable or re-password themselves here (they would lock themselves out mid-page). */
const notSelf = (c: Ctx, operator: Account, user: User) =>
  user.id === operator.id ? message(c, operator, 400, "Nothing was changed", "This is your own account: use another operator's account or the CLI.") : undefined;

/** `POST …/disable/`: `user disable`. */
export const consoleUserDisable = forUser(async (c, operator, user) => {
  const refused = notSelf(c, operator, user);
  if (refused) return refused;
  sendLogoutTokensAfterResponse(c, (await disableUser(stores(c), user, c.get("settings")))?.endedSessionIds ?? []);
  c.get("emit")({ type: "user.disabled", userId: user.id, operatorId: operator.id });
  return c.redirect(withNotice(userPath(c, user.id), "user_disabled"), 303);
}, true);

/** `POST …/enable/`: `user enable`. */
export const consoleUserEnable = forUser(async (c, operator, user) => {
  await setUserActive(c.get("db"), user.username, true);
  c.get("emit")({ type: "user.enabled", userId: user.id, operatorId: operator.id });
  return c.redirect(withNotice(userPath(c, user.id), "user_enabled"), 303);
}, true);

/** `POST …/password/`: `user set-password`; a refused password is shown next to the field. */
export const consoleUserPassword = forUser(async (c, operator, user, params) => {
  const refused = notSelf(c, operator, user);
  if (refused) return refused;
  const checked = userRegistrationSchema.shape.password.safeParse(params!.get("password") ?? "");
  if (!checked.success) return showUser(c, operator, user, { passwordErrors: checked.error.issues.map((i) => i.message) }, 400);
  sendLogoutTokensAfterResponse(c, (await changeUserPassword(stores(c), user, checked.data, c.get("settings")))?.endedSessionIds ?? []);
  c.get("emit")({ type: "user.password_changed", userId: user.id, operatorId: operator.id });
  return c.redirect(withNotice(userPath(c, user.id), "password_changed"), 303);
}, true);

/** `POST …/signout/`: `user signout [--revoke-tokens]`. */
export const consoleUserSignOut = forUser(async (c, operator, user, params) => {
  const revokeTokens = params!.has("revoke_tokens");
  sendLogoutTokensAfterResponse(c, (await endUserAccess(stores(c), user.id, c.get("settings"), revokeTokens)).endedSessionIds);
  c.get("emit")({ type: "user.signed_out", userId: user.id, operatorId: operator.id });
  return c.redirect(withNotice(userPath(c, user.id), revokeTokens ? "signed_out_revoked" : "signed_out"), 303);
}, true);

// ---- keys ---------------------------------------------------------------------------------

/** `GET {basePath}/admin/keys/`: the keys and the CLI steps that rotate them. */
export const consoleKeys = forOperator(async (c, operator) => {
  if (c.get("settings").DATABASE_SIGNING_KEYS) return showDatabaseKeys(c, operator);
  const ring = await c.var.keys();
  const signing = new Set(ring.keys.map((k) => signingKeyFor(ring, k.alg).kid));
  const waiting = ring.keys.filter((k) => !signing.has(k.kid));
  const admin = "npm run -s admin -- keys";
  const put = "npx wrangler secret put SIGNING_KEYS < next.json";
  const steps = [
    { title: "1. Add a key: published now, signing after step 2", commands: [`${admin} add --alg ${ring.keys[0]?.alg ?? "ES256"} --file keys.json > next.json`, put] },
    {
      title: "2. After JWKS caches expired (6 min): make it sign",
      commands: waiting.length > 0 ? waiting.map((k) => `${admin} promote --kid=${k.kid} --file keys.json > next.json && ${put}`) : [`${admin} promote --kid=NEW_KID --file keys.json > next.json`, put],
    },
    {
      title: "3. After the longest token lifetime: retire the old key",
      commands: [`${admin} retire --kid=OLD_KID --file keys.json > next.json`, put],
    },
  ];
  const page = KeysPage({
    base: consoleBase(c),
    operator: operator.username,
    keys: ring.keys.map((k) => ({ kid: k.kid, alg: k.alg, signs: signing.has(k.kid) })),
    jwksUrl: `${c.get("endpointBase")}/.well-known/jwks.json`,
    steps,
  });
  return send(c, page);
});

// ---- keys kept in the database (DATABASE_SIGNING_KEYS) ----------------------------------------

const KEY_NOTICES: Record<string, string> = {
  key_added: "The key is added: it is published, and signs once you make it sign.",
  key_promoted: "The key is promoted: it signs from the time shown, once every server and every JWKS cache holds it.",
  key_retired: "The key is retired: it leaves the JWKS, and every server stops using it within a minute.",
};

/** The keys page with DATABASE_SIGNING_KEYS: the secret's keys and every database key, with their roles and actions. */
async function showDatabaseKeys(c: Ctx, operator: Account): Promise<Response> {
  const settings = c.get("settings");
  const now = nowSeconds();
  const [ring, rows] = await Promise.all([c.var.keys(), listAllSigningKeys(c.get("db"))]);
  const roles = databaseKeyRoles(rows, now);
  const lifetime = longestSignedLifetime(settings);
  const secretKeys: RingKeyView[] = ring.keys
    .filter((k) => k.source !== "database")
    .map((k) => ({
      kid: k.kid,
      alg: k.alg,
      source: "secret",
      role: !databaseKeySigns(rows, k.alg, now) && ring.keys.find((s) => s.alg === k.alg && s.source !== "database") === k ? "signs" : "published",
    }));
  const databaseKeys = await Promise.all(
    rows.map(async (row): Promise<RingKeyView> => {
      const role = roles.get(row.kid)!;
      const view: RingKeyView = { kid: row.kid, alg: row.alg, source: "database", role: role.role };
      if (role.role === "scheduled") view.at = role.signsFrom;
      if (role.role === "signed") Object.assign(view, { at: role.signedUntil, retirableFrom: retirableFrom(role.signedUntil, lifetime) });
      if (role.role === "retired") view.at = role.retiredAt;
      else if (!(await opensWithSecret(row, c.var.secret()))) view.role = "unreadable";
      return view;
    }),
  );
  const page = DatabaseKeysPage({
    base: consoleBase(c),
    operator: operator.username,
    keys: [...secretKeys, ...databaseKeys],
    jwksUrl: `${c.get("endpointBase")}/.well-known/jwks.json`,
    algorithms: SIGNING_ALGORITHMS,
    hidden: await hidden(c),
    notice: KEY_NOTICES[c.req.query("done") ?? ""],
    promotionDelay: PROMOTION_DELAY_SECONDS,
    lifetime,
  });
  return send(c, page);
}

/** A key action: 404 while DATABASE_SIGNING_KEYS is off; a refusal is a 409 page saying why. */
function keyAction(act: (c: Ctx, operator: Account, params: Params) => Promise<Response>) {
  return forOperator(async (c, operator) => {
    if (!c.get("settings").DATABASE_SIGNING_KEYS) return c.notFound();
    const params = await checkedForm(c, operator);
    if (params instanceof Response) return params;
    try {
      return await act(c, operator, params);
    } catch (err) {
      if (err instanceof KeyChangeRefused) return message(c, operator, 409, "Nothing was changed", err.message);
      throw err;
    }
  });
}

const keysPath = (c: Ctx) => `${consoleBase(c)}/keys/`;
const secretKids = async (c: Ctx) => (await c.var.keys()).keys.filter((k) => k.source !== "database").map((k) => k.kid);

/** `POST {basePath}/admin/keys/add/`: `db-keys add --alg ALG`. */
export const consoleKeyAdd = keyAction(async (c, operator, params) => {
  const alg = params.get("alg") ?? "";
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    return message(c, operator, 400, "Nothing was changed", `Choose an algorithm: ${SIGNING_ALGORITHMS.join(", ")}.`);
  }
  const row = await addDatabaseKey(c.get("db"), c.var.secret(), alg);
  c.get("emit")({ type: "key.added", kid: row.kid, alg, operatorId: operator.id });
  return c.redirect(withNotice(keysPath(c), "key_added"), 303);
});

/** `POST {basePath}/admin/keys/{kid}/promote/`: `db-keys promote --kid KID`. */
export const consoleKeyPromote = keyAction(async (c, operator) => {
  const row = await promoteDatabaseKey(c.get("db"), c.req.param("kid") ?? "", { secretKids: await secretKids(c), secret: c.var.secret() });
  c.get("emit")({ type: "key.promoted", kid: row.kid, alg: row.alg, signsFrom: row.signsFrom!, operatorId: operator.id });
  return c.redirect(withNotice(keysPath(c), "key_promoted"), 303);
});

/** `POST {basePath}/admin/keys/{kid}/retire/`: `db-keys retire --kid KID`. */
export const consoleKeyRetire = keyAction(async (c, operator) => {
  const lifetime = longestSignedLifetime(c.get("settings"));
  const row = await retireDatabaseKey(c.get("db"), c.req.param("kid") ?? "", { lifetime, secretKids: await secretKids(c) });
  c.get("emit")({ type: "key.retired", kid: row.kid, alg: row.alg, operatorId: operator.id });
  return c.redirect(withNotice(keysPath(c), "key_retired"), 303);
});

import type { Context } from "hono";
import { findUserApplication, forgetCachedClient, listUserApplications } from "../db/clients";
import { registerClient, registrationOfClient, replaceClientRegistration, rotateClientSecret, type ClientRegistration } from "../db/registration";
import type { Client } from "../db/schema";
import { OAuthError } from "../oauth/errors";
import { readFormBody, type Params } from "../oauth/form";
import { clientFormErrors, clientFormOfParams, EMPTY_CLIENT_FORM, hasErrors, OPERATOR_SCOPES, registrationOfForm, type FieldErrors } from "../oauth/client-form";
import type { Account } from "../session/accounts";
import { checkCsrf, csrfToken, CSRF_FIELD } from "../session/cookies";
import { signedInAccount } from "../session/signed-in";
import { clientSecretSealer, rotationSealer } from "../tokens/client-secret";
import { deleteClientAndTokens } from "../tokens/revocation";
import type { ProviderEnv } from "../types";
import {
  ApplicationDeletePage,
  ApplicationDetailPage,
  ApplicationFormPage,
  ApplicationListPage,
  ApplicationMessagePage,
  type ApplicationFormValues,
  type ApplicationView,
} from "../views/application-pages";
import { sendPage, type HtmlContent } from "../views/render";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * DOT's application pages (`{basePath}/applications/...`): a signed-in user registers, views, edits,
 * deletes their own applications and rotates their secrets. Another user's application, an
 * operator's or a self-registered one is "not found", whatever the action.
 */

type Ctx = Context<ProviderEnv>;

/**
 * The grants a user may give an application: those of dynamic registration. Implicit and password
 * stay with the operator (the admin CLI), as OAuth 2.1 drops them and DOT parity needs them rarely.
 */
export const USER_GRANT_CHOICES = ["authorization_code", "refresh_token", "client_credentials"] as const;

const applicationsBase = (c: Ctx) => `${c.get("basePath")}/applications`;

async function send(c: Ctx, page: unknown, status: ContentfulStatusCode = 200): Promise<Response> {
  return sendPage(c, page as HtmlContent, status);
}

/** The signed-in user of this browser (session at the primary: the pages write, and read their own writes). */
async function currentUser(c: Ctx): Promise<Account | undefined> {
  const signedIn = await signedInAccount(c, c.var);
  return signedIn?.account;
}

function toLogin(c: Ctx, next: string): Response {
  return c.redirect(`${c.get("basePath")}/login/?${new URLSearchParams({ next }).toString()}`, 303);
}

/** Where signing in returns to: this page for a GET, the list (a GET page) after a POST. */
function loginReturn(c: Ctx): string {
  if (c.req.method !== "GET") return `${applicationsBase(c)}/`;
  const path = new URL(c.req.url).pathname;
  return path.endsWith("/") ? path : `${path}/`;
}

async function csrfFields(c: Ctx): Promise<Record<string, string>> {
  return { [CSRF_FIELD]: await csrfToken(c, c.var.secret(), c.get("settings").SESSION_COOKIE_AGE_SECONDS) };
}

function notFound(c: Ctx): Promise<Response> {
  const page = ApplicationMessagePage({ base: applicationsBase(c), title: "Not found", message: "You have no application with this client ID." });
  return send(c, page, 404);
}

function badForm(c: Ctx, status: 400 | 403, message: string): Promise<Response> {
  return send(c, ApplicationMessagePage({ base: applicationsBase(c), title: "Nothing was changed", message }), status);
}

const viewOf = (client: Client): ApplicationView => ({
  id: client.id,
  name: client.name,
  clientType: client.clientType,
  grantTypes: client.grantTypes,
  redirectUris: client.redirectUris,
  postLogoutRedirectUris: client.postLogoutRedirectUris,
  allowedOrigins: client.allowedOrigins,
  scope: client.scope,
  skipAuthorization: client.skipAuthorization,
  createdAt: client.createdAt,
});

const formOfClient = (client: Client): ApplicationFormValues => ({
  name: client.name,
  clientType: client.clientType,
  grantTypes: client.grantTypes,
  redirectUris: client.redirectUris.join("\n"),
  postLogoutRedirectUris: client.postLogoutRedirectUris.join("\n"),
  allowedOrigins: client.allowedOrigins.join("\n"),
  scope: client.scope,
  skipAuthorization: client.skipAuthorization,
});

/**
 * What the form asks for, as the admin CLI's registration input. Skip consent is taken only where
 * the operator allows it; otherwise the application keeps what it had (new ones: no).
 */
function registrationOf(c: Ctx, values: ApplicationFormValues, owner: Account, existing?: Client): ClientRegistration {
  const maySkip = c.get("settings").APPLICATIONS_MAY_SKIP_CONSENT;
  return {
    // The settings the pages do not show (set by an operator: authentication method, keys, logout URIs, …) stay.
    ...(existing ? registrationOfClient(existing) : {}),
    ...registrationOfForm(values),
    skipAuthorization: maySkip ? values.skipAuthorization : (existing?.skipAuthorization ?? false),
    userId: owner.id,
    source: "user",
  };
}

async function showForm(c: Ctx, values: ApplicationFormValues, errors: FieldErrors, existing?: Client): Promise<Response> {
  const base = applicationsBase(c);
  const settings = c.get("settings");
  const own = existing ? `${base}/${encodeURIComponent(existing.id)}` : undefined;
  const page = ApplicationFormPage({
    title: existing ? `Edit ${existing.name}` : "Register an application",
    action: own ? `${own}/update/` : `${base}/register/`,
    back: own ? `${own}/` : `${base}/`,
    csrf: await csrfFields(c),
    values,
    errors,
    grantChoices: USER_GRANT_CHOICES,
    knownScopes: ["openid", "profile", "email", ...Object.keys(settings.SCOPES).filter((scope) => !OPERATOR_SCOPES.has(scope))],
    maySkipConsent: settings.APPLICATIONS_MAY_SKIP_CONSENT,
    submitLabel: existing ? "Save" : "Register",
  });
  return send(c, page, hasErrors(errors) ? 400 : 200);
}

async function showDetail(c: Ctx, client: Client, secret?: { value: string; previousUntil?: string | null }): Promise<Response> {
  const page = ApplicationDetailPage({
    base: applicationsBase(c),
    application: viewOf(client),
    ...(secret ? { secret: secret.value, previousSecretUntil: secret.previousUntil } : {}),
    csrf: await csrfFields(c),
    maySkipConsent: c.get("settings").APPLICATIONS_MAY_SKIP_CONSENT,
  });
  return send(c, page);
}

/** The posted form, when it is a well-formed form carrying this browser's CSRF token. */
async function checkedForm(c: Ctx): Promise<Params | Response> {
  let params: Params;
  try {
    params = await readFormBody(c.req.raw, c.get("settings").MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof OAuthError) return badForm(c, 400, err.description);
    throw err;
  }
  if (!(await checkCsrf(c, c.var.secret(), params.get(CSRF_FIELD)))) {
    return badForm(c, 403, "The form expired or did not come from this site. Please go back, reload the page and try again.");
  }
  return params;
}

/** Runs `handle` for the signed-in user (others go to the login page and back). */
function forUser(handle: (c: Ctx, user: Account) => Promise<Response>) {
  return async (c: Ctx): Promise<Response> => {
    const user = await currentUser(c);
    if (!user) return toLogin(c, loginReturn(c));
    return handle(c, user);
  };
}

/** Runs `handle` with one of the signed-in user's applications; any other client id is a 404 page. */
function forOwnApplication(handle: (c: Ctx, user: Account, client: Client) => Promise<Response>) {
  return forUser(async (c, user) => {
    const client = await findUserApplication(c.get("db"), user.id, c.req.param("clientId") ?? "");
    if (!client) return notFound(c);
    return handle(c, user, client);
  });
}

/** `GET {basePath}/applications/`. */
export const applicationList = forUser(async (c, user) => {
  const applications = await listUserApplications(c.get("db"), user.id);
  return send(c, ApplicationListPage({ base: applicationsBase(c), username: user.username, applications: applications.map(viewOf) }));
});

/** `GET {basePath}/applications/register/`. */
export const applicationRegisterForm = forUser((c) => showForm(c, EMPTY_CLIENT_FORM, {}));

/** `POST {basePath}/applications/register/`: the new application's page, with its secret shown this once. */
export const applicationRegister = forUser(async (c, user) => {
  const params = await checkedForm(c);
  if (params instanceof Response) return params;
  const values = clientFormOfParams(params, USER_GRANT_CHOICES);
  const input = registrationOf(c, values, user);
  const errors = clientFormErrors(input);
  if (hasErrors(errors)) return showForm(c, values, errors);
  const { client, clientSecret } = await registerClient(c.get("db"), input, { sealSecret: clientSecretSealer(c.var.secret()) });
  c.get("emit")({ type: "client.registered", clientId: client.id, source: "user", userId: user.id });
  return showDetail(c, client, clientSecret ? { value: clientSecret } : undefined);
});

/** `GET {basePath}/applications/{client_id}/`. */
export const applicationDetail = forOwnApplication((c, _user, client) => showDetail(c, client));

/** `GET {basePath}/applications/{client_id}/update/`. */
export const applicationUpdateForm = forOwnApplication((c, _user, client) => showForm(c, formOfClient(client), {}, client));

/** `POST {basePath}/applications/{client_id}/update/`: applies at once in this isolate (others within CLIENT_CACHE_SECONDS). */
export const applicationUpdate = forOwnApplication(async (c, user, client) => {
  const params = await checkedForm(c);
  if (params instanceof Response) return params;
  const values = clientFormOfParams(params, USER_GRANT_CHOICES);
  const input = registrationOf(c, values, user, client);
  const errors = clientFormErrors(input, { existing: client });
  if (hasErrors(errors)) return showForm(c, values, errors, client);
  await replaceClientRegistration(c.get("db"), client, input, { sealSecret: clientSecretSealer(c.var.secret()) });
  forgetCachedClient(client.id);
  c.get("emit")({ type: "client.updated", clientId: client.id, source: "user", userId: user.id });
  return c.redirect(`${applicationsBase(c)}/${encodeURIComponent(client.id)}/`, 303);
});

/** `GET {basePath}/applications/{client_id}/delete/`: the confirmation page. */
export const applicationDeleteForm = forOwnApplication(async (c, _user, client) =>
  send(c, ApplicationDeletePage({ base: applicationsBase(c), application: viewOf(client), csrf: await csrfFields(c) })),
);

/**
 * `POST {basePath}/applications/{client_id}/delete/`: what the admin CLI's `client delete` does. Its
 * refresh tokens and consents go with the row (foreign keys); its access tokens are refused from now on.
 */
export const applicationDelete = forOwnApplication(async (c, user, client) => {
  const params = await checkedForm(c);
  if (params instanceof Response) return params;
  await deleteClientAndTokens({ db: c.get("db"), kv: c.get("kv") }, client.id, c.get("settings"));
  c.get("emit")({ type: "client.deleted", clientId: client.id, source: "user", userId: user.id });
  return c.redirect(`${applicationsBase(c)}/`, 303);
});

/**
 * `POST {basePath}/applications/{client_id}/rotate-secret/`: a new secret, shown once; the old one
 * stops at once (in other warm isolates within CLIENT_CACHE_SECONDS). The admin CLI can keep it for a grace.
 */
export const applicationRotateSecret = forOwnApplication(async (c, _user, client) => {
  const params = await checkedForm(c);
  if (params instanceof Response) return params;
  if (client.clientType !== "confidential") return badForm(c, 400, "A public application has no secret.");
  const rotated = await rotateClientSecret(c.get("db"), client.id, 0, undefined, rotationSealer(client, c.var.secret));
  if (!rotated) return notFound(c);
  forgetCachedClient(client.id);
  return showDetail(c, client, { value: rotated.secret, previousUntil: null });
});

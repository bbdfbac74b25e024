import type { Child } from "hono/jsx";
import { HiddenFields, Layout } from "./layout";

/** The application pages' additions to the shared look: wider main, lists, textareas, checkboxes (the console's client form too). */
export const applicationStyles = `
main.wide{max-width:44rem;margin:4vh auto}
@media (max-width:30rem){main.wide{margin:0;border-radius:0;padding:1.25rem}}
select{width:100%;padding:.55rem .6rem;border:1px solid #b8bfcc;border-radius:8px;font:inherit;background:#fff}
select:focus{outline:3px solid #8ab4f8;outline-offset:1px}
textarea{width:100%;min-height:4.5rem;padding:.6rem .7rem;border:1px solid #b8bfcc;border-radius:8px;font:inherit}
textarea:focus,a:focus{outline:3px solid #8ab4f8;outline-offset:1px}
fieldset{border:1px solid #d3d8e0;border-radius:8px;margin:.75rem 0;padding:.5rem .8rem}
legend{font-weight:600;padding:0 .25rem}
label.choice{display:flex;gap:.5rem;align-items:center;font-weight:400;margin:.35rem 0}
.field-error{color:#8a1c1c;margin:.25rem 0 0;font-size:.95rem}
[aria-invalid=true]{border-color:#c62828}
.hint{color:#5b6473;font-size:.9rem;margin:.2rem 0 0}
ul.apps{list-style:none;padding:0}
ul.apps li{padding:.6rem 0;border-bottom:1px solid #e3e6eb}
dl.app dt{font-weight:600;margin-top:.6rem}
dl.app dd{margin:0;overflow-wrap:anywhere}
.secret{background:#fff8e1;border:1px solid #f0d27a;padding:.6rem .8rem;border-radius:8px;overflow-wrap:anywhere}
a{color:#1a56db}
.links{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
form.inline{margin-top:1rem}
`;

/** One application as the pages show it. */
export interface ApplicationView {
  id: string;
  name: string;
  clientType: "confidential" | "public";
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedOrigins: string[];
  scope: string;
  skipAuthorization: boolean;
  /** Unix seconds. */
  createdAt: number;
}

/** What the register and edit form holds, as typed: lists one per line. */
export interface ApplicationFormValues {
  name: string;
  clientType: string;
  grantTypes: string[];
  redirectUris: string;
  postLogoutRedirectUris: string;
  allowedOrigins: string;
  scope: string;
  skipAuthorization: boolean;
  /** The operator console's fields: RFC 8707 resources (one per line) and the token endpoint authentication method. */
  resources?: string;
  tokenEndpointAuthMethod?: string;
}

export type ApplicationField = keyof ApplicationFormValues;

export interface ApplicationFormProps {
  title: string;
  action: string;
  /** Where "Cancel" leads. */
  back: string;
  csrf: Record<string, string>;
  values: ApplicationFormValues;
  /** Messages per field, shown next to it. */
  errors: Partial<Record<ApplicationField, string[]>>;
  /** The grant types a user may pick. */
  grantChoices: readonly string[];
  /** The scopes this server knows, as a hint. */
  knownScopes: string[];
  /** Whether the operator lets users skip the consent page (APPLICATIONS_MAY_SKIP_CONSENT). */
  maySkipConsent: boolean;
  submitLabel: string;
  /** The operator console's form: resources and the authentication method too. */
  operator?: boolean;
  /** The page frame's title prefix and navigation (the console's). */
  frame?: (props: { title: string; children?: Child }) => Child;
}

const isoDate = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);

function Page(props: { title: string; children?: Child }) {
  return (
    <Layout title={props.title} styles={applicationStyles} mainClass="wide">
      {props.children}
    </Layout>
  );
}

/** The messages of one field, linked to its input by `aria-describedby`. */
function FieldErrors(props: { id: string; messages?: string[] }) {
  if (!props.messages || props.messages.length === 0) return null;
  return (
    <div id={`${props.id}-error`}>
      {props.messages.map((message) => (
        <p class="field-error">{message}</p>
      ))}
    </div>
  );
}

const invalid = (messages?: string[]) => (messages && messages.length > 0 ? { "aria-invalid": "true" } : {});
const describedBy = (id: string, messages: string[] | undefined, hint?: boolean) => {
  const ids = [hint ? `${id}-hint` : "", messages && messages.length > 0 ? `${id}-error` : ""].filter(Boolean);
  return ids.length > 0 ? { "aria-describedby": ids.join(" ") } : {};
};

function ListField(props: { id: string; label: string; hint: string; value: string; errors?: string[] }) {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <textarea id={props.id} name={props.id} {...invalid(props.errors)} {...describedBy(props.id, props.errors, true)}>
        {props.value}
      </textarea>
      <p class="hint" id={`${props.id}-hint`}>
        {props.hint}
      </p>
      <FieldErrors id={props.id} messages={props.errors} />
    </>
  );
}

/** `GET {basePath}/applications/`: the signed-in user's applications. */
export function ApplicationListPage(props: { base: string; username: string; applications: ApplicationView[] }) {
  return (
    <Page title="Your applications">
      <h1>Your applications</h1>
      <p class="muted">Signed in as {props.username}.</p>
      {props.applications.length === 0 ? (
        <p>You have not registered any application yet.</p>
      ) : (
        <ul class="apps">
          {props.applications.map((app) => (
            <li>
              <a href={`${props.base}/${encodeURIComponent(app.id)}/`}>{app.name}</a>{" "}
              <span class="muted">
                {app.clientType}, registered {isoDate(app.createdAt)}
              </span>
            </li>
          ))}
        </ul>
      )}
      <p class="links">
        <a href={`${props.base}/register/`}>Register a new application</a>
      </p>
    </Page>
  );
}

/** The register and edit form; re-rendered with the values and each field's messages when they are refused. */
export function ApplicationFormPage(props: ApplicationFormProps) {
  const { values, errors } = props;
  const hasErrors = Object.values(errors).some((messages) => messages && messages.length > 0);
  const Frame = props.frame ?? Page;
  return (
    <Frame title={props.title}>
      <h1>{props.title}</h1>
      {hasErrors ? (
        <p class="error" role="alert">
          Some fields need changing: see the messages below them.
        </p>
      ) : null}
      <form method="post" action={props.action}>
        <HiddenFields fields={props.csrf} />
        <label for="name">Name</label>
        <input id="name" name="name" type="text" required maxlength={200} value={values.name} {...invalid(errors.name)} {...describedBy("name", errors.name)} />
        <FieldErrors id="name" messages={errors.name} />

        <fieldset {...describedBy("client_type", errors.clientType)}>
          <legend>Client type</legend>
          <label class="choice">
            <input type="radio" name="client_type" value="confidential" checked={values.clientType === "confidential"} />
            Confidential: a server that can keep a secret
          </label>
          <label class="choice">
            <input type="radio" name="client_type" value="public" checked={values.clientType === "public"} />
            Public: a browser or native app (no secret; PKCE)
          </label>
          <FieldErrors id="client_type" messages={errors.clientType} />
        </fieldset>

        <fieldset {...describedBy("grant_types", errors.grantTypes)}>
          <legend>Grant types</legend>
          {props.grantChoices.map((grant) => (
            <label class="choice">
              <input type="checkbox" name={`grant_${grant}`} value="on" checked={values.grantTypes.includes(grant)} />
              <code>{grant}</code>
            </label>
          ))}
          <FieldErrors id="grant_types" messages={errors.grantTypes} />
        </fieldset>

        <ListField
          id="redirect_uris"
          label="Redirect URIs"
          hint="One per line; https, or http only on loopback (127.0.0.1, [::1], localhost)."
          value={values.redirectUris}
          errors={errors.redirectUris}
        />
        <ListField
          id="post_logout_redirect_uris"
          label="Post-logout redirect URIs"
          hint="One per line; where RP-initiated logout may send the user back."
          value={values.postLogoutRedirectUris}
          errors={errors.postLogoutRedirectUris}
        />
        <ListField
          id="allowed_origins"
          label="Allowed origins"
          hint="One per line, such as https://app.example.com: browser apps may call the token endpoint from there (CORS)."
          value={values.allowedOrigins}
          errors={errors.allowedOrigins}
        />

        <label for="scope">Scopes</label>
        <input id="scope" name="scope" type="text" value={values.scope} {...invalid(errors.scope)} {...describedBy("scope", errors.scope, true)} />
        <p class="hint" id="scope-hint">
          Space-separated; this server knows {props.knownScopes.join(", ")}.
        </p>
        <FieldErrors id="scope" messages={errors.scope} />

        {props.operator ? <OperatorFields values={values} errors={errors} /> : null}

        {props.maySkipConsent ? (
          <label class="choice">
            <input type="checkbox" name="skip_authorization" value="on" checked={values.skipAuthorization} />
            Skip the consent page for this application
          </label>
        ) : null}

        <div class="actions">
          <button type="submit">{props.submitLabel}</button>
        </div>
      </form>
      <p class="links">
        <a href={props.back}>Cancel</a>
      </p>
    </Frame>
  );
}

const AUTH_METHODS: [string, string][] = [
  ["", "The default: client_secret_basic, or none for a public client"],
  ["client_secret_basic", "client_secret_basic (HTTP Basic)"],
  ["client_secret_post", "client_secret_post (in the form body)"],
  ["none", "none (a public client)"],
];

/** What only an operator sets on a client: the resources it may ask for, how it authenticates. */
function OperatorFields(props: { values: ApplicationFormValues; errors: ApplicationFormProps["errors"] }) {
  const { values, errors } = props;
  return (
    <>
      <ListField
        id="resources"
        label="Resources"
        hint="One per line (RFC 8707): the only APIs this client may ask tokens for. Empty: any the server knows."
        value={values.resources ?? ""}
        errors={errors.resources}
      />
      <label for="token_endpoint_auth_method">Token endpoint authentication</label>
      <select
        id="token_endpoint_auth_method"
        name="token_endpoint_auth_method"
        {...invalid(errors.tokenEndpointAuthMethod)}
        {...describedBy("token_endpoint_auth_method", errors.tokenEndpointAuthMethod)}
      >
        {AUTH_METHODS.map(([value, label]) => (
          <option value={value} selected={(values.tokenEndpointAuthMethod ?? "") === value}>
            {label}
          </option>
        ))}
      </select>
      <FieldErrors id="token_endpoint_auth_method" messages={errors.tokenEndpointAuthMethod} />
    </>
  );
}

/** A `<dd>` with one code line per item, or `none` (default "(none)"). */
export function ListValue(props: { items: string[]; none?: string }) {
  if (props.items.length === 0) return <dd class="muted">{props.none ?? "(none)"}</dd>;
  return (
    <dd>
      {props.items.map((item) => (
        <div>
          <code>{item}</code>
        </div>
      ))}
    </dd>
  );
}

export interface ApplicationDetailProps {
  base: string;
  application: ApplicationView;
  /** The client secret, only right after creation or rotation; never shown again. */
  secret?: string;
  /** When the previous secret stops working after a rotation (ISO time), or null: at once. */
  previousSecretUntil?: string | null;
  csrf: Record<string, string>;
  maySkipConsent: boolean;
}

/** `GET {basePath}/applications/{client_id}/`, and the page right after creation or rotation (with the secret). */
export function ApplicationDetailPage(props: ApplicationDetailProps) {
  const app = props.application;
  const own = `${props.base}/${encodeURIComponent(app.id)}`;
  return (
    <Page title={app.name}>
      <h1>{app.name}</h1>
      {props.secret !== undefined ? (
        <div class="secret" role="status">
          <p>
            <strong>Client secret</strong>, shown only now: copy it and store it safely. This server keeps only its hash.
          </p>
          <p>
            <code id="client-secret">{props.secret}</code>
          </p>
          {props.previousSecretUntil === undefined ? null : props.previousSecretUntil === null ? (
            <p>The previous secret no longer works.</p>
          ) : (
            <p>The previous secret works until {props.previousSecretUntil}.</p>
          )}
        </div>
      ) : null}
      <dl class="app">
        <dt>Client ID</dt>
        <dd>
          <code>{app.id}</code>
        </dd>
        <dt>Client type</dt>
        <dd>{app.clientType}</dd>
        <dt>Grant types</dt>
        <ListValue items={app.grantTypes} />
        <dt>Redirect URIs</dt>
        <ListValue items={app.redirectUris} />
        <dt>Post-logout redirect URIs</dt>
        <ListValue items={app.postLogoutRedirectUris} />
        <dt>Allowed origins</dt>
        <ListValue items={app.allowedOrigins} />
        <dt>Scopes</dt>
        <dd>{app.scope || <span class="muted">(none)</span>}</dd>
        {props.maySkipConsent || app.skipAuthorization ? (
          <>
            <dt>Skip consent</dt>
            <dd>{app.skipAuthorization ? "yes" : "no"}</dd>
          </>
        ) : null}
        <dt>Registered</dt>
        <dd>{isoDate(app.createdAt)}</dd>
      </dl>
      <p class="links">
        <a href={`${own}/update/`}>Edit</a>
        <a href={`${own}/delete/`}>Delete</a>
        <a href={`${props.base}/`}>All your applications</a>
      </p>
      {app.clientType === "confidential" ? (
        <form method="post" action={`${own}/rotate-secret/`} class="inline">
          <HiddenFields fields={props.csrf} />
          <p class="muted">A new secret works at once; the current one stops working.</p>
          <div class="actions">
            <button type="submit" class="secondary">
              Rotate the secret
            </button>
          </div>
        </form>
      ) : null}
    </Page>
  );
}

/** `GET {basePath}/applications/{client_id}/delete/`: asks before deleting. */
export function ApplicationDeletePage(props: { base: string; application: ApplicationView; csrf: Record<string, string> }) {
  const app = props.application;
  const own = `${props.base}/${encodeURIComponent(app.id)}`;
  return (
    <Page title={`Delete ${app.name}?`}>
      <h1>Delete {app.name}?</h1>
      <p>Its tokens stop working, and every user's approval of it is forgotten. This cannot be undone.</p>
      <form method="post" action={`${own}/delete/`}>
        <HiddenFields fields={props.csrf} />
        <div class="actions">
          <button type="submit">Delete</button>
        </div>
      </form>
      <p class="links">
        <a href={`${own}/`}>Cancel</a>
      </p>
    </Page>
  );
}

/** A page with one message (not found, form expired), linking back to the list. */
export function ApplicationMessagePage(props: { base: string; title: string; message: string }) {
  return (
    <Page title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p class="links">
        <a href={`${props.base}/`}>Your applications</a>
      </p>
    </Page>
  );
}

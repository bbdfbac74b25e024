import type { Child } from "hono/jsx";
import { applicationStyles, ListValue } from "./application-pages";
import { HiddenFields, Layout } from "./layout";
import { MAX_SECRET_GRACE_SECONDS } from "../db/registration";

/**
 * The operator console (`{basePath}/admin/`): Django admin's place for clients, users, signing
 * keys and recent events. Server-rendered, no scripts; every change is a POST with a CSRF token.
 */

const styles = `
main.console{max-width:60rem;margin:3vh auto}
@media (max-width:40rem){main.console{margin:0;border-radius:0;padding:1rem}}
nav.console{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:baseline;border-bottom:1px solid #dde1e8;padding-bottom:.6rem;margin-bottom:1rem}
nav.console a{color:#1a56db;font-weight:600}
nav.console a[aria-current=page]{color:#1d2330;text-decoration:none}
nav.console .who{margin-left:auto;color:#5b6473;font-size:.9rem}
a{color:#1a56db}
a:focus,select:focus,textarea:focus{outline:3px solid #8ab4f8;outline-offset:1px}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{font-weight:600;background:#f7f8fa}
td code,dd code{overflow-wrap:anywhere}
dl.record dt{font-weight:600;margin-top:.6rem}
dl.record dd{margin:0;overflow-wrap:anywhere}
section.operations{border-top:1px solid #dde1e8;margin-top:1.5rem;padding-top:.5rem}
section.operations h2{font-size:1.05rem;margin:1rem 0 .25rem}
section.operations form{margin:.25rem 0 1rem}
section.operations .actions{margin-top:.5rem}
section.operations button{flex:none}
td code.event{white-space:nowrap}
td .detail{font-size:.8rem;overflow-wrap:anywhere;margin-top:.2rem}
button.danger{background:#b42318;border-color:#b42318}
.secret{background:#fff8e1;border:1px solid #f0d27a;padding:.6rem .8rem;border-radius:8px;overflow-wrap:anywhere}
.notice{background:#e8f4ea;border:1px solid #a8d5b0;color:#1d5a2a;padding:.6rem .8rem;border-radius:8px}
.field-error{color:#8a1c1c;margin:.25rem 0 0;font-size:.95rem}
[aria-invalid=true]{border-color:#c62828}
.hint{color:#5b6473;font-size:.9rem;margin:.2rem 0 0}
label.choice{display:flex;gap:.5rem;align-items:center;font-weight:400;margin:.5rem 0}
input[type=email],input[type=number]{width:100%;padding:.6rem .7rem;border:1px solid #b8bfcc;border-radius:8px;font:inherit}
select{padding:.45rem .5rem;border:1px solid #b8bfcc;border-radius:8px;font:inherit;background:#fff}
form.filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:0 0 1rem}
form.filter label{margin:0}
form.filter button{flex:none;padding:.45rem .9rem}
.links{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
pre{background:#eef0f4;padding:.6rem .8rem;border-radius:8px;overflow-x:auto;font-size:.85rem}
pre code{background:none;padding:0}
`;

export type ConsoleSection = "home" | "clients" | "users" | "keys" | "events";

export interface ConsoleFrameProps {
  /** `{basePath}/admin` */
  base: string;
  operator: string;
  section: ConsoleSection;
  title: string;
  children?: Child;
}

const SECTIONS: [ConsoleSection, string, string][] = [
  ["home", "Overview", "/"],
  ["clients", "Clients", "/clients/"],
  ["users", "Users", "/users/"],
  ["keys", "Signing keys", "/keys/"],
  ["events", "Events", "/events/"],
];

/** Every console page: the section navigation, who is signed in, the page. */
export function ConsoleFrame(props: ConsoleFrameProps) {
  return (
    <Layout title={`${props.title} · Operator console`} styles={applicationStyles + styles} mainClass="console">
      <nav class="console" aria-label="Operator console">
        {SECTIONS.map(([section, label, path]) => (
          <a href={`${props.base}${path}`} {...(section === props.section ? { "aria-current": "page" } : {})}>
            {label}
          </a>
        ))}
        <span class="who">Operator: {props.operator}</span>
      </nav>
      {props.children}
    </Layout>
  );
}

/** A time in UTC, to the second: the pages know no time zone. */
export function Time(props: { seconds: number }) {
  const iso = new Date(props.seconds * 1000).toISOString();
  return <time datetime={iso}>{`${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`}</time>;
}

function Table(props: { caption: string; headers: string[]; rows: Child[][]; empty: string }) {
  if (props.rows.length === 0) return <p class="muted">{props.empty}</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class="muted" style="text-align:left">
          {props.caption}
        </caption>
        <thead>
          <tr>
            {props.headers.map((h) => (
              <th scope="col">{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr>
              {row.map((cell) => (
                <td>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Notice(props: { text?: string }) {
  return props.text ? (
    <p class="notice" role="status">
      {props.text}
    </p>
  ) : null;
}

/** A POST button with its CSRF field (and any other hidden fields). */
function ActionForm(props: { action: string; hidden: Record<string, string>; label: string; danger?: boolean; children?: Child }) {
  return (
    <form method="post" action={props.action}>
      <HiddenFields fields={props.hidden} />
      {props.children}
      <div class="actions">
        <button type="submit" class={props.danger ? "danger" : "secondary"}>
          {props.label}
        </button>
      </div>
    </form>
  );
}

// ---- events ---------------------------------------------------------------------------------

export interface EventView {
  at: number;
  type: string;
  user?: { name: string; href?: string };
  client?: { name: string; href?: string };
  operator?: string;
  detail: string;
}

function Named(props: { thing?: { name: string; href?: string } }) {
  if (!props.thing) return <span class="muted">–</span>;
  return props.thing.href ? <a href={props.thing.href}>{props.thing.name}</a> : <code>{props.thing.name}</code>;
}

export function EventTable(props: { events: EventView[] }) {
  return (
    <Table
      caption="Latest first"
      headers={["When", "Event", "User", "Client", "Operator"]}
      empty="No events recorded yet."
      rows={props.events.map((e) => [
        <Time seconds={e.at} />,
        <>
          <code class="event">{e.type}</code>
          {e.detail ? <div class="muted detail">{e.detail}</div> : null}
        </>,
        <Named thing={e.user} />,
        <Named thing={e.client} />,
        e.operator ?? <span class="muted">–</span>,
      ])}
    />
  );
}

export interface ConsoleHomeProps extends Omit<ConsoleFrameProps, "section" | "title" | "children"> {
  counts: { clients: number; users: number; keys: number };
  events: EventView[];
}

export function ConsoleHomePage(props: ConsoleHomeProps) {
  const { base } = props;
  return (
    <ConsoleFrame base={base} operator={props.operator} section="home" title="Overview">
      <h1>Operator console</h1>
      <ul>
        <li>
          <a href={`${base}/clients/`}>{props.counts.clients} clients</a>
        </li>
        <li>
          <a href={`${base}/users/`}>{props.counts.users} users</a>
        </li>
        <li>
          <a href={`${base}/keys/`}>{props.counts.keys} signing keys</a>
        </li>
      </ul>
      <h2>Recent events</h2>
      <EventTable events={props.events} />
      <p class="links">
        <a href={`${base}/events/`}>All recent events</a>
      </p>
    </ConsoleFrame>
  );
}

export function EventsPage(props: { base: string; operator: string; events: EventView[]; types: string[]; type?: string; keptDays: number }) {
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="events" title="Events">
      <h1>Recent events</h1>
      <p class="muted">
        Sign-ins, lock-outs, reuse of codes and refresh tokens, revocations by users, client changes and what operators
        did here, kept {props.keptDays} days. Tokens issued are not recorded.
      </p>
      <form method="get" action={`${props.base}/events/`} class="filter">
        <label for="type">Event type</label>
        <select id="type" name="type">
          <option value="">All</option>
          {props.types.map((t) => (
            <option value={t} selected={t === props.type}>
              {t}
            </option>
          ))}
        </select>
        <button type="submit">Show</button>
      </form>
      <EventTable events={props.events} />
    </ConsoleFrame>
  );
}

// ---- clients --------------------------------------------------------------------------------

export interface ConsoleClientView {
  id: string;
  name: string;
  clientType: string;
  applicationType: string;
  source: string;
  owner?: { name: string; href: string };
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowedOrigins: string[];
  resources: string[];
  scope: string;
  skipAuthorization: boolean;
  tokenEndpointAuthMethod: string;
  previousSecretUntil?: number;
  createdAt: number;
}

export function ClientListPage(props: { base: string; operator: string; clients: ConsoleClientView[]; notice?: string }) {
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="clients" title="Clients">
      <h1>Clients</h1>
      <Notice text={props.notice} />
      <p class="links">
        <a href={`${props.base}/clients/new/`}>Register a client</a>
      </p>
      <Table
        caption="Every client: made here or with the CLI (admin), by users, by dynamic registration, or from a metadata document"
        headers={["Name", "Client ID", "Type", "Source", "Grant types"]}
        empty="No clients yet."
        rows={props.clients.map((c) => [
          <a href={`${props.base}/clients/${encodeURIComponent(c.id)}/`}>{c.name}</a>,
          <code>{c.id}</code>,
          c.clientType,
          c.source,
          c.grantTypes.join(", "),
        ])}
      />
    </ConsoleFrame>
  );
}

export interface ClientDetailProps {
  base: string;
  operator: string;
  client: ConsoleClientView;
  hidden: Record<string, string>;
  /** Right after creation or rotation: the secret, shown once. */
  secret?: string;
  notice?: string;
  defaultGraceSeconds: number;
}

export function ClientDetailPage(props: ClientDetailProps) {
  const c = props.client;
  const own = `${props.base}/clients/${encodeURIComponent(c.id)}`;
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="clients" title={c.name}>
      <h1>{c.name}</h1>
      <Notice text={props.notice} />
      {props.secret !== undefined ? (
        <div class="secret" role="status">
          <p>
            <strong>Client secret</strong>, shown only now: copy it and give it to the client's owner. Only its hash is kept.
          </p>
          <p>
            <code id="client-secret">{props.secret}</code>
          </p>
        </div>
      ) : null}
      <dl class="record">
        <dt>Client ID</dt>
        <dd>
          <code id="client-id">{c.id}</code>
        </dd>
        <dt>Type</dt>
        <dd>
          {c.clientType} ({c.applicationType})
        </dd>
        <dt>Source</dt>
        <dd>
          {c.source}
          {c.owner ? (
            <>
              {", owned by "}
              <a href={c.owner.href}>{c.owner.name}</a>
            </>
          ) : null}
        </dd>
        <dt>Grant types</dt>
        <ListValue items={c.grantTypes} />
        <dt>Redirect URIs</dt>
        <ListValue items={c.redirectUris} />
        <dt>Post-logout redirect URIs</dt>
        <ListValue items={c.postLogoutRedirectUris} />
        <dt>Allowed origins</dt>
        <ListValue items={c.allowedOrigins} />
        <dt>Resources</dt>
        <ListValue items={c.resources} none="(any the server knows)" />
        <dt>Scope</dt>
        <dd>{c.scope || <span class="muted">(none)</span>}</dd>
        <dt>Skip consent</dt>
        <dd>{c.skipAuthorization ? "yes" : "no"}</dd>
        <dt>Token endpoint authentication</dt>
        <dd>
          <code>{c.tokenEndpointAuthMethod}</code>
        </dd>
        {c.previousSecretUntil ? (
          <>
            <dt>Previous secret accepted until</dt>
            <dd>
              <Time seconds={c.previousSecretUntil} />
            </dd>
          </>
        ) : null}
        <dt>Created</dt>
        <dd>
          <Time seconds={c.createdAt} />
        </dd>
      </dl>
      <section class="operations" aria-label="Actions">
        {c.clientType === "confidential" ? (
          <>
            <h2>Rotate the secret</h2>
            <ActionForm action={`${own}/rotate-secret/`} hidden={props.hidden} label="Rotate the secret">
              <label for="grace_seconds">Keep accepting the current secret for (seconds)</label>
              <input id="grace_seconds" name="grace_seconds" type="number" min="0" max={String(MAX_SECRET_GRACE_SECONDS)} value={String(props.defaultGraceSeconds)} aria-describedby="grace-hint" />
              <p class="hint" id="grace-hint">
                0 ends it at once; the client switches to the new secret within this time.
              </p>
            </ActionForm>
          </>
        ) : null}
        <h2>Revoke its tokens</h2>
        <p class="muted">Every refresh token now, and every access token issued until now (elsewhere within about 60 s).</p>
        <ActionForm action={`${own}/revoke-tokens/`} hidden={props.hidden} label="Revoke every token" />
        <h2>Delete</h2>
        <p class="links">
          <a href={`${own}/delete/`}>Delete this client…</a>
        </p>
      </section>
    </ConsoleFrame>
  );
}

export function ClientDeletePage(props: { base: string; operator: string; client: ConsoleClientView; hidden: Record<string, string> }) {
  const own = `${props.base}/clients/${encodeURIComponent(props.client.id)}`;
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="clients" title={`Delete ${props.client.name}?`}>
      <h1>Delete {props.client.name}?</h1>
      <p>Its tokens stop working and every user's approval of it is forgotten. This cannot be undone.</p>
      <ActionForm action={`${own}/delete/`} hidden={props.hidden} label="Delete" danger />
      <p class="links">
        <a href={`${own}/`}>Cancel</a>
      </p>
    </ConsoleFrame>
  );
}

// ---- users ----------------------------------------------------------------------------------

export interface ConsoleUserView {
  id: string;
  username: string;
  email: string | null;
  isActive: boolean;
  isOperator: boolean;
  createdAt: number;
}

export function UserListPage(props: { base: string; operator: string; users: ConsoleUserView[] }) {
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="users" title="Users">
      <h1>Users</h1>
      <p class="links">
        <a href={`${props.base}/users/new/`}>Create a user</a>
      </p>
      <Table
        caption="Users of the built-in users table"
        headers={["Username", "Active", "Operator", "Email", "Created"]}
        empty="No users yet."
        rows={props.users.map((u) => [
          <a href={`${props.base}/users/${encodeURIComponent(u.id)}/`}>{u.username}</a>,
          u.isActive ? "yes" : "no",
          u.isOperator ? "yes" : "no",
          u.email ?? "",
          <Time seconds={u.createdAt} />,
        ])}
      />
    </ConsoleFrame>
  );
}

export type UserField = "username" | "password" | "email";

function FieldErrors(props: { id: string; messages?: string[] }) {
  if (!props.messages || props.messages.length === 0) return null;
  return (
    <div id={`${props.id}-error`}>
      {props.messages.map((m) => (
        <p class="field-error">{m}</p>
      ))}
    </div>
  );
}

function TextField(props: { id: string; label: string; type: string; value?: string; errors?: string[]; autocomplete?: string; required?: boolean }) {
  const bad = props.errors && props.errors.length > 0;
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.id}
        type={props.type}
        value={props.value ?? ""}
        required={props.required}
        autocomplete={props.autocomplete}
        {...(bad ? { "aria-invalid": "true", "aria-describedby": `${props.id}-error` } : {})}
      />
      <FieldErrors id={props.id} messages={props.errors} />
    </>
  );
}

export interface UserFormProps {
  base: string;
  operator: string;
  hidden: Record<string, string>;
  values: { username: string; email: string; operator: boolean };
  errors: Partial<Record<UserField, string[]>>;
}

export function UserFormPage(props: UserFormProps) {
  const hasErrors = Object.keys(props.errors).length > 0;
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="users" title="Create a user">
      <h1>Create a user</h1>
      {hasErrors ? (
        <p class="error" role="alert">
          Some fields need changing: see the messages below them.
        </p>
      ) : null}
      <form method="post" action={`${props.base}/users/new/`}>
        <HiddenFields fields={props.hidden} />
        <TextField id="username" label="Username" type="text" value={props.values.username} errors={props.errors.username} autocomplete="off" required />
        <TextField id="password" label="Password" type="password" errors={props.errors.password} autocomplete="new-password" required />
        <TextField id="email" label="Email (optional)" type="email" value={props.values.email} errors={props.errors.email} autocomplete="off" />
        <label class="choice">
          <input type="checkbox" name="operator" value="on" checked={props.values.operator} />
          Operator: may use this console
        </label>
        <div class="actions">
          <button type="submit">Create</button>
        </div>
      </form>
      <p class="links">
        <a href={`${props.base}/users/`}>Cancel</a>
      </p>
    </ConsoleFrame>
  );
}

export interface UserDetailProps {
  base: string;
  operator: string;
  user: ConsoleUserView;
  hidden: Record<string, string>;
  authorizations: { clientName: string; clientHref: string; scope: string; authorizedAt: number }[];
  events: EventView[];
  notice?: string;
  passwordErrors?: string[];
  /** The operator looking at their own account: no disabling oneself here. */
  isSelf: boolean;
}

export function UserDetailPage(props: UserDetailProps) {
  const u = props.user;
  const own = `${props.base}/users/${encodeURIComponent(u.id)}`;
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="users" title={u.username}>
      <h1>{u.username}</h1>
      <Notice text={props.notice} />
      <dl class="record">
        <dt>User ID</dt>
        <dd>
          <code>{u.id}</code>
        </dd>
        <dt>Email</dt>
        <dd>{u.email ?? <span class="muted">(none)</span>}</dd>
        <dt>Active</dt>
        <dd id="user-active">{u.isActive ? "yes" : "no (cannot sign in)"}</dd>
        <dt>Operator</dt>
        <dd>{u.isOperator ? "yes" : "no"}</dd>
        <dt>Created</dt>
        <dd>
          <Time seconds={u.createdAt} />
        </dd>
      </dl>
      <h2>Authorized applications</h2>
      <Table
        caption="What this user has let in (their authorized-tokens page)"
        headers={["Client", "Scope", "Authorized"]}
        empty="None."
        rows={props.authorizations.map((a) => [<a href={a.clientHref}>{a.clientName}</a>, a.scope, <Time seconds={a.authorizedAt} />])}
      />
      <h2>Recent events</h2>
      <EventTable events={props.events} />
      <section class="operations" aria-label="Actions">
        {props.isSelf ? (
          <p class="muted">This is your own account: disable it or change its password from another operator's account or the CLI.</p>
        ) : (
          <>
            <h2>{u.isActive ? "Disable" : "Enable"}</h2>
            {u.isActive ? (
              <ActionForm action={`${own}/disable/`} hidden={props.hidden} label="Disable this user" danger>
                <p class="muted">They cannot sign in; their sessions end and their tokens are revoked.</p>
              </ActionForm>
            ) : (
              <ActionForm action={`${own}/enable/`} hidden={props.hidden} label="Enable this user" />
            )}
            <h2>Reset the password</h2>
            <ActionForm action={`${own}/password/`} hidden={props.hidden} label="Set the password">
              <TextField id="password" label="New password" type="password" errors={props.passwordErrors} autocomplete="new-password" required />
              <p class="hint">Their sessions end and their tokens are revoked; tell them the new password.</p>
            </ActionForm>
          </>
        )}
        <h2>Sign out everywhere</h2>
        <ActionForm action={`${own}/signout/`} hidden={props.hidden} label="Sign out everywhere">
          <label class="choice">
            <input type="checkbox" name="revoke_tokens" value="on" />
            Also revoke every token they hold
          </label>
        </ActionForm>
      </section>
    </ConsoleFrame>
  );
}

// ---- keys -----------------------------------------------------------------------------------

export interface KeyView {
  kid: string;
  alg: string;
  signs: boolean;
}

export function KeysPage(props: { base: string; operator: string; keys: KeyView[]; jwksUrl: string; steps: { title: string; commands: string[] }[] }) {
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="keys" title="Signing keys">
      <h1>Signing keys</h1>
      <p>
        From the <code>SIGNING_KEYS</code> secret; every key is published at <a href={props.jwksUrl}>the JWKS</a>, the first of
        each algorithm signs.
      </p>
      <Table
        caption="Keys in SIGNING_KEYS"
        headers={["Key ID", "Algorithm", "Role"]}
        empty="No keys."
        rows={props.keys.map((k) => [<code>{k.kid}</code>, k.alg, k.signs ? "signs" : "published only"])}
      />
      <h2>Rotating keys</h2>
      <p>
        A Worker cannot write its own secrets, and private keys should not pass through a browser: rotation is done with the admin
        CLI and <code>wrangler secret put</code>, add then retire (docs/keys.md). For these keys:
      </p>
      <p class="muted">
        Or set <code>DATABASE_SIGNING_KEYS=true</code> to keep further keys in D1 and add, promote and retire them here
        (docs/keys.md).
      </p>
      {props.steps.map((step) => (
        <>
          <h3>{step.title}</h3>
          <pre>
            <code>{step.commands.join("\n")}</code>
          </pre>
        </>
      ))}
    </ConsoleFrame>
  );
}

/** A key as the page with DATABASE_SIGNING_KEYS lists it. */
export interface RingKeyView {
  kid: string;
  alg: string;
  source: "secret" | "database";
  /** `signed`: signed until `at`, retirable from `retirableFrom`; `scheduled`: signs from `at`; `retired`: at `at`. */
  role: "signs" | "published" | "scheduled" | "signed" | "retired" | "unreadable";
  at?: number;
  retirableFrom?: number;
}

function RoleOf(props: { k: RingKeyView }) {
  const k = props.k;
  switch (k.role) {
    case "signs":
      return <strong>signs</strong>;
    case "published":
      return <>published</>;
    case "scheduled":
      return (
        <>
          published; signs from <Time seconds={k.at!} />
        </>
      );
    case "signed":
      return (
        <>
          published; signed until <Time seconds={k.at!} />, may be retired from <Time seconds={k.retirableFrom!} />
        </>
      );
    case "retired":
      return (
        <>
          retired <Time seconds={k.at!} />
        </>
      );
    case "unreadable":
      return <>skipped: it does not open with this SECRET_KEY</>;
  }
}

function KeyActions(props: { base: string; k: RingKeyView; hidden: Record<string, string> }) {
  const { k } = props;
  if (k.source === "secret") return <span class="muted">in the SIGNING_KEYS secret: rotate it with the CLI</span>;
  if (k.role === "retired") return null;
  const own = `${props.base}/keys/${encodeURIComponent(k.kid)}`;
  return (
    <>
      {k.role === "published" || k.role === "signed" ? <ActionForm action={`${own}/promote/`} hidden={props.hidden} label="Make it sign" /> : null}
      {k.role !== "signs" ? <ActionForm action={`${own}/retire/`} hidden={props.hidden} label="Retire" danger /> : null}
    </>
  );
}

export interface DatabaseKeysProps {
  base: string;
  operator: string;
  keys: RingKeyView[];
  jwksUrl: string;
  algorithms: readonly string[];
  hidden: Record<string, string>;
  notice?: string;
  /** Seconds from adding a key to its earliest signing. */
  promotionDelay: number;
  /** The longest token lifetime: how long after its last token a key may be retired. */
  lifetime: number;
}

/** The keys page with DATABASE_SIGNING_KEYS on: secret and database keys, and the buttons that rotate the database ones. */
export function DatabaseKeysPage(props: DatabaseKeysProps) {
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="keys" title="Signing keys">
      <h1>Signing keys</h1>
      <Notice text={props.notice} />
      <p>
        From the <code>SIGNING_KEYS</code> secret and from the database (<code>DATABASE_SIGNING_KEYS</code>). Every key not retired
        is published at <a href={props.jwksUrl}>the JWKS</a> and verifies tokens. Of each algorithm, the database key promoted last
        signs, else the secret's first key.
      </p>
      <Table
        caption="Keys"
        headers={["Key ID", "Algorithm", "Source", "Role", "Actions"]}
        empty="No keys."
        rows={props.keys.map((k) => [
          <code>{k.kid}</code>,
          k.alg,
          k.source,
          <RoleOf k={k} />,
          <KeyActions base={props.base} k={k} hidden={props.hidden} />,
        ])}
      />
      <h2>Add a key</h2>
      <ActionForm action={`${props.base}/keys/add/`} hidden={props.hidden} label="Add a key">
        <label for="alg">Algorithm</label>
        <select id="alg" name="alg">
          {props.algorithms.map((alg) => (
            <option value={alg}>{alg}</option>
          ))}
        </select>
      </ActionForm>
      <p class="muted">
        A new key is published at once and signs only once promoted. <strong>Make it sign</strong> sets the time it signs from: at
        the earliest {Math.round(props.promotionDelay / 60)} minutes after it was added, when every server and every JWKS cache
        holds it. <strong>Retire</strong> removes a key from the JWKS; it is refused while the key signs, and until{" "}
        {props.lifetime} s (the longest token lifetime) after the last token it signed.
      </p>
    </ConsoleFrame>
  );
}

// ---- messages -------------------------------------------------------------------------------

/** Not found, not allowed, form expired: one message with a way back. */
export function ConsoleMessagePage(props: { base: string; operator?: string; title: string; message: string }) {
  const body = (
    <>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p class="links">
        <a href={`${props.base}/`}>Operator console</a>
      </p>
    </>
  );
  if (props.operator === undefined) {
    return (
      <Layout title={props.title} styles={styles}>
        {body}
      </Layout>
    );
  }
  return (
    <ConsoleFrame base={props.base} operator={props.operator} section="home" title={props.title}>
      {body}
    </ConsoleFrame>
  );
}

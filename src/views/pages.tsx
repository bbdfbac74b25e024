import { HiddenFields, Layout } from "./layout";

/** What a login page gets; a custom `pages.login` renders the same form fields. */
export interface LoginPageProps {
  /** Where the form posts. */
  action: string;
  /** Hidden fields the form must send back (`csrfmiddlewaretoken`, `next`). */
  hidden: Record<string, string>;
  username?: string;
  error?: string;
  /** A line above the form; the ready Worker's development hint naming the demo user (never set by the provider). */
  notice?: string;
}

export interface ScopeView {
  name: string;
  description: string;
}

/** What the consent page gets (the analogue of DOT's `get_context_data`). */
export interface ConsentPageProps {
  action: string;
  /** The authorization request and the CSRF token, to post back unchanged (a repeated field: its first value). */
  hidden: Record<string, string>;
  /**
   * The resources (APIs, RFC 8707) the request names, each once, to show. `hidden.resource` is the
   * first; a page posts the others back as one hidden `resource` field each (`resources.slice(1)`).
   * A page that drops them asks for fewer resources, never more.
   */
  resources: string[];
  /** `source`: how the client came to be; one that registered itself chose its own name. */
  client: { id: string; name: string; source?: "admin" | "registration" | "metadata_document" | "user" };
  user: { id: string; username: string };
  scopes: ScopeView[];
  /** Claims asked for beyond the scopes (the `claims` parameter): the user approves them too. */
  claims: ScopeView[];
  logoutAction: string;
}

export interface ErrorPageProps {
  error: string;
  description: string;
}

export interface LogoutPageProps {
  action: string;
  hidden: Record<string, string>;
  username?: string;
  clientName?: string;
}

export function LoginPage(props: LoginPageProps) {
  return (
    <Layout title="Sign in">
      <h1>Sign in</h1>
      {props.notice ? <p class="muted">{props.notice}</p> : null}
      {props.error ? (
        <p class="error" role="alert">
          {props.error}
        </p>
      ) : null}
      <form method="post" action={props.action}>
        <HiddenFields fields={props.hidden} />
        <label for="username">Username</label>
        <input id="username" name="username" type="text" autocomplete="username" required autofocus value={props.username ?? ""} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <div class="actions">
          <button type="submit">Sign in</button>
        </div>
      </form>
    </Layout>
  );
}

/** What the user is asked to approve (or approved): each item's description, with its protocol name. */
/** The RFC 8707 resources a request names ("at: …"), under its scopes; nothing when it names none. */
export function ResourceList(props: { resources: string[] }) {
  if (props.resources.length === 0) return null;
  return (
    <>
      <p>at:</p>
      <ul class="scopes">
        {props.resources.map((resource) => (
          <li>
            <code>{resource}</code>
          </li>
        ))}
      </ul>
    </>
  );
}

export function ScopeList(props: { items: ScopeView[] }) {
  return (
    <ul class="scopes">
      {props.items.map((item) => (
        <li>
          {item.description} <span class="muted">(<code>{item.name}</code>)</span>
        </li>
      ))}
    </ul>
  );
}

/**
 * A client that registered itself chose its own name, so the page says so: with a client ID
 * metadata document, which site published it (anyone can publish a document with any name).
 */
function SelfNamed(props: { client: ConsentPageProps["client"] }) {
  const { id, source } = props.client;
  if (/^https?:\/\//.test(id) && URL.canParse(id)) {
    return (
      <p class="muted">
        This application's details come from <strong>{new URL(id).host}</strong>.
      </p>
    );
  }
  if (source === "user") return <p class="muted">A user of this server registered this application: its name is not checked by the operator.</p>;
  if (source !== "registration") return null;
  return <p class="muted">This application registered itself: its name is its own, not checked by this server's operator.</p>;
}

export function ConsentPage(props: ConsentPageProps) {
  return (
    <Layout title={`Authorize ${props.client.name}`}>
      <h1>Authorize {props.client.name}?</h1>
      <SelfNamed client={props.client} />
      <p>
        <strong>{props.client.name}</strong> would like to:
      </p>
      <ScopeList items={props.scopes} />
      {props.claims.length > 0 ? (
        <>
          <p>and to see:</p>
          <ScopeList items={props.claims} />
        </>
      ) : null}
      <ResourceList resources={props.resources} />
      <form method="post" action={props.action}>
        <HiddenFields fields={props.hidden} />
        {props.resources.slice(1).map((resource) => (
          <input type="hidden" name="resource" value={resource} />
        ))}
        <div class="actions">
          <button type="submit" name="cancel" value="Cancel" class="secondary">
            Cancel
          </button>
          <button type="submit" name="allow" value="Authorize">
            Authorize
          </button>
        </div>
      </form>
      <p class="muted">
        Signed in as {props.user.username}. <a href={props.logoutAction}>Not you? Sign out</a>
      </p>
    </Layout>
  );
}

export function ErrorPage(props: ErrorPageProps) {
  return (
    <Layout title="Authorization error">
      <h1>This request cannot be completed</h1>
      <p class="error" role="alert">
        <code>{props.error}</code>: {props.description}
      </p>
      <p class="muted">You can close this page and return to the application.</p>
    </Layout>
  );
}

export function LogoutPage(props: LogoutPageProps) {
  return (
    <Layout title="Sign out">
      <h1>Sign out{props.clientName ? ` of ${props.clientName}` : ""}?</h1>
      {props.username ? <p>You are signed in as {props.username}.</p> : <p>You are not signed in.</p>}
      <form method="post" action={props.action}>
        <HiddenFields fields={props.hidden} />
        <div class="actions">
          <button type="submit" name="logout" value="yes">
            Sign out
          </button>
        </div>
      </form>
    </Layout>
  );
}

/** OAuth 2.0 Form Post Response Mode: the browser posts the response to the client. */
export function FormPostPage(props: { action: string; fields: Record<string, string>; nonce: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Submitting…</title>
      </head>
      <body>
        <form method="post" action={props.action}>
          <HiddenFields fields={props.fields} />
          <noscript>
            <button type="submit">Continue</button>
          </noscript>
        </form>
        <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: "document.forms[0].submit()" }} />
      </body>
    </html>
  );
}

export function MessagePage(props: { title: string; message: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
    </Layout>
  );
}

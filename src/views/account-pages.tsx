import { HiddenFields, Layout } from "./layout";
import { ScopeList, type ScopeView } from "./pages";

/** One authorized application as the authorized-tokens page shows it (times in epoch seconds). */
export interface AuthorizedAppView {
  clientId: string;
  clientName: string;
  scopes: ScopeView[];
  authorizedAt: number;
  lastIssuedAt?: number;
  /** The confirmation page of revoking it. */
  revokeUrl: string;
}

export interface AuthorizedTokensPageProps {
  username: string;
  apps: AuthorizedAppView[];
  /** A line after a revocation ("… can no longer …"). */
  notice?: string;
}

export interface RevokeAuthorizationPageProps {
  app: AuthorizedAppView;
  /** Where the form posts, and the CSRF token it sends back. */
  action: string;
  hidden: Record<string, string>;
  cancelUrl: string;
  error?: string;
}

/** Rows stack on a phone; the revoke button stays under its application's name. */
const accountStyles = `
main.account{max-width:40rem}
ul.apps{list-style:none;padding:0;margin:0}
ul.apps>li{border-top:1px solid #dde1e8;padding:1rem 0}
ul.apps h2{font-size:1.1rem;margin:0 0 .25rem}
.notice{background:#e8f4ea;border:1px solid #a8d5b0;color:#1d5a2a;padding:.6rem .8rem;border-radius:8px}
form.inline{margin:.5rem 0 0}
form.inline button{flex:none}
button.danger{background:#b42318;border-color:#b42318}
a.button{display:inline-block;flex:1;text-align:center;padding:.65rem 1rem;border-radius:8px;border:1px solid #1a56db;color:#1a56db;text-decoration:none;font-weight:600}
a:focus{outline:3px solid #8ab4f8;outline-offset:1px}
`;

function ScopeItems(props: { scopes: ScopeView[] }) {
  if (props.scopes.length === 0) return <p class="muted">No scopes.</p>;
  return <ScopeList items={props.scopes} />;
}

/** A time in UTC, to the minute: the same for every reader, since the page knows no time zone. */
function Time(props: { seconds: number }) {
  const iso = new Date(props.seconds * 1000).toISOString();
  return <time datetime={iso}>{`${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`}</time>;
}

function AppDates(props: { app: AuthorizedAppView }) {
  return (
    <p class="muted">
      Authorized <Time seconds={props.app.authorizedAt} />
      {props.app.lastIssuedAt ? (
        <>
          {" "}
          · tokens last issued <Time seconds={props.app.lastIssuedAt} />
        </>
      ) : null}
    </p>
  );
}

/** DOT's "authorized tokens" list: each application the user let in, and a way to take it back. */
export function AuthorizedTokensPage(props: AuthorizedTokensPageProps) {
  return (
    <Layout title="Authorized applications" styles={accountStyles} mainClass="account">
      <h1>Authorized applications</h1>
      <p class="muted">Signed in as {props.username}.</p>
      {props.notice ? (
        <p class="notice" role="status">
          {props.notice}
        </p>
      ) : null}
      {props.apps.length === 0 ? (
        <p>You have not authorized any application.</p>
      ) : (
        <ul class="apps">
          {props.apps.map((app) => (
            <li>
              <h2>{app.clientName}</h2>
              <p class="muted">
                Client ID <code>{app.clientId}</code>
              </p>
              <ScopeItems scopes={app.scopes} />
              <AppDates app={app} />
              {/* A GET form: the button leads to the confirmation page, which posts with the CSRF token. */}
              <form class="inline" method="get" action={app.revokeUrl}>
                <button type="submit" class="danger" aria-label={`Revoke ${app.clientName}`}>
                  Revoke
                </button>
              </form>
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}

/** Asks before revoking: what the application loses, and the form that does it. */
export function RevokeAuthorizationPage(props: RevokeAuthorizationPageProps) {
  return (
    <Layout title={`Revoke ${props.app.clientName}`} styles={accountStyles} mainClass="account">
      <h1>Revoke {props.app.clientName}?</h1>
      {props.error ? (
        <p class="error" role="alert">
          {props.error}
        </p>
      ) : null}
      <p>
        <strong>{props.app.clientName}</strong> will no longer be able to use your account: its tokens stop working, and it must ask you
        again to get new ones. It had access to:
      </p>
      <ScopeItems scopes={props.app.scopes} />
      <AppDates app={props.app} />
      <form method="post" action={props.action}>
        <HiddenFields fields={props.hidden} />
        <div class="actions">
          <button type="submit" class="danger">
            Revoke access
          </button>
          <a class="button" href={props.cancelUrl}>
            Cancel
          </a>
        </div>
      </form>
    </Layout>
  );
}

import { HiddenFields, Layout } from "./layout";
import { ResourceList, ScopeList, type ScopeView } from "./pages";

/** The verification page's first step: the user types the code their device shows. */
export interface DeviceCodePageProps {
  action: string;
  hidden: Record<string, string>;
  /** Prefilled from `verification_uri_complete`: the user still confirms it against the device. */
  userCode?: string;
  username: string;
  error?: string;
}

/** The second step: what the device asks for, and the code to compare with the device's. */
export interface DeviceConfirmPageProps {
  action: string;
  hidden: Record<string, string>;
  userCode: string;
  client: { id: string; name: string; source: string };
  scopes: ScopeView[];
  resources: string[];
  username: string;
}

const deviceStyles = `
.code{font-family:ui-monospace,monospace;font-size:1.6rem;letter-spacing:.15em;text-align:center;padding:.5rem;border:1px dashed #8a94a6;border-radius:8px}
input.code{width:100%;box-sizing:border-box;text-transform:uppercase}
.warning{background:#fff6e5;border:1px solid #f0c36d;padding:.6rem .8rem;border-radius:8px}
`;

function ErrorLine(props: { error?: string }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}

/** RFC 8628 §3.3: where the user enters the code. */
export function DeviceCodePage(props: DeviceCodePageProps) {
  return (
    <Layout title="Connect a device" styles={deviceStyles}>
      <h1>Connect a device</h1>
      <ErrorLine error={props.error} />
      <form method="post" action={props.action}>
        <HiddenFields fields={props.hidden} />
        <label for="user_code">Enter the code shown on your device</label>
        <input
          id="user_code"
          class="code"
          name="user_code"
          value={props.userCode ?? ""}
          autocomplete="off"
          autocapitalize="characters"
          spellcheck={false}
          placeholder="XXXX-XXXX"
          maxlength={32}
          required
        />
        <div class="actions">
          <button type="submit">Continue</button>
        </div>
      </form>
      <p class="muted">Signed in as {props.username}.</p>
    </Layout>
  );
}

/**
 * RFC 8628 §5.4: a device code can be phished (someone sends you their code), so the page names
 * the application, shows the code to compare with the device in front of the user, and asks.
 */
export function DeviceConfirmPage(props: DeviceConfirmPageProps) {
  return (
    <Layout title={`Connect ${props.client.name}`} styles={deviceStyles}>
      <h1>Connect {props.client.name}?</h1>
      <p>A device is asking to use your account through</p>
      <p>
        <strong>{props.client.name}</strong> <span class="muted">(client ID <code>{props.client.id}</code>)</span>
      </p>
      {props.client.source !== "admin" ? <p class="muted">This application's name was not checked by this server's operator.</p> : null}
      <p class="code">{props.userCode}</p>
      <p class="warning">
        Only continue if this code is shown on a device in front of you that you are setting up. If someone sent you this code, deny.
      </p>
      <p>It would be able to:</p>
      <ScopeList items={props.scopes} />
      <ResourceList resources={props.resources} />
      <form method="post" action={props.action}>
        <HiddenFields fields={props.hidden} />
        <div class="actions">
          <button type="submit" name="decision" value="deny" class="secondary">
            Deny
          </button>
          <button type="submit" name="decision" value="approve">
            Approve
          </button>
        </div>
      </form>
      <p class="muted">Signed in as {props.username}.</p>
    </Layout>
  );
}

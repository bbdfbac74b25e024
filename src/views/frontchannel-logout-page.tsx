import { Layout } from "./layout";

/** How long the page waits for the clients' logout pages before it moves on. */
export const FRONTCHANNEL_WAIT_MS = 5_000;

/** Moves on (the continue link, or the message) once every frame has loaded, or after the wait. */
const script = `
const next = document.getElementById("continue");
const frames = [...document.querySelectorAll("iframe")];
let left = frames.length, moved = false;
const moveOn = () => {
  if (moved) return;
  moved = true;
  if (next) location.replace(next.href);
  else document.getElementById("progress").textContent = "You have been signed out.";
};
for (const frame of frames) frame.addEventListener("load", () => { if (--left === 0) moveOn(); });
setTimeout(moveOn, ${FRONTCHANNEL_WAIT_MS});
`;

export interface FrontChannelLogoutPageProps {
  /** The clients' `frontchannel_logout_uri`s, with `iss` and `sid` where the client asked for them. */
  frames: string[];
  /** The post-logout redirect URI (with `state`), if the request had one. */
  next?: string;
  nonce: string;
}

/**
 * OIDC Front-Channel Logout 1.0 §3: after signing out, the page loads each client's logout URI in
 * a hidden iframe, so those clients clear their own sessions in this browser, then continues.
 */
export function FrontChannelLogoutPage(props: FrontChannelLogoutPageProps) {
  return (
    <Layout title="Signing out">
      <h1>Signed out</h1>
      <p id="progress">Signing you out of the applications you used…</p>
      {props.next ? (
        <p>
          <a id="continue" href={props.next}>
            Continue
          </a>
        </p>
      ) : null}
      {props.frames.map((src) => (
        <iframe src={src} hidden title="Application sign-out" />
      ))}
      <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: script }} />
    </Layout>
  );
}

import { html } from "hono/html";
import type { LoginPageProps } from "edge-oauth-toolkit";

/**
 * The sign-in page, in our own look. `html` escapes every `${…}` it interpolates (text and
 * attribute values alike), so the username a visitor typed, the error and the hidden fields come
 * back as text, never as markup; only `html` fragments (the hidden inputs below) go in as they are.
 * Renderers also get the request's Hono context as a second argument. The provider sends the page
 * with its own headers (no scripts, never framed, no-store).
 */
export function signInPage(props: LoginPageProps) {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Sign in · Example Co.</title>
    <style>
      body { font: 16px/1.5 system-ui, sans-serif; max-width: 24rem; margin: 4rem auto; padding: 0 1rem; }
      label, input, button { display: block; width: 100%; box-sizing: border-box; }
      input { margin: 0.25rem 0 1rem; padding: 0.5rem; }
      button { padding: 0.6rem; background: #1d4ed8; color: #fff; border: 0; border-radius: 4px; }
      .error { color: #b91c1c; }
    </style>
  </head>
  <body>
    <h1>Sign in to Example Co.</h1>
    ${props.error ? html`<p class="error" role="alert">${props.error}</p>` : ""}
    <form method="post" action="${props.action}">
      ${Object.entries(props.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`)}
      <label for="username">Username</label>
      <input id="username" name="username" autocomplete="username" required autofocus value="${props.username ?? ""}" />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <button type="submit">Sign in</button>
    </form>
  </body>
</html>`;
}

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConsentPage, ErrorPage, LoginPage, LogoutPage, MessagePage } from "./pages";
import type { ConsentPageProps, ErrorPageProps, LoginPageProps, LogoutPageProps } from "./pages";
import { DeviceCodePage, DeviceConfirmPage, type DeviceCodePageProps, type DeviceConfirmPageProps } from "./device-pages";

export type HtmlContent = string | Promise<string>;

/**
 * How the provider's pages look. Each renderer gets the page's props (and the request's
 * context) and returns HTML; replace any of them through `createProvider({ pages })`.
 */
export interface PageRenderers {
  login(props: LoginPageProps, c: Context): HtmlContent;
  consent(props: ConsentPageProps, c: Context): HtmlContent;
  error(props: ErrorPageProps, c: Context): HtmlContent;
  logout(props: LogoutPageProps, c: Context): HtmlContent;
  /** Shown after signing out, or after signing in with nowhere to go back to. */
  message(props: { title: string; message: string }, c: Context): HtmlContent;
  /** The device verification page (RFC 8628): where the user types the device's code. */
  deviceCode(props: DeviceCodePageProps, c: Context): HtmlContent;
  /** The device's request to approve or deny: client, scopes, and the code to compare (RFC 8628 §5.4). */
  deviceConfirm(props: DeviceConfirmPageProps, c: Context): HtmlContent;
}

export const defaultPages: PageRenderers = {
  login: (props) => LoginPage(props) as HtmlContent,
  consent: (props) => ConsentPage(props) as HtmlContent,
  error: (props) => ErrorPage(props) as HtmlContent,
  logout: (props) => LogoutPage(props) as HtmlContent,
  message: (props) => MessagePage(props) as HtmlContent,
  deviceCode: (props) => DeviceCodePage(props) as HtmlContent,
  deviceConfirm: (props) => DeviceConfirmPage(props) as HtmlContent,
};

/**
 * Headers of every HTML page: never framed, never cached, no scripts, no referrer to other sites.
 * `same-origin`, not `no-referrer`: with `no-referrer` browsers send `Origin: null` on the pages'
 * own form posts (Fetch, "append a request Origin header"), which the CSRF check must refuse.
 */
export function setPageHeaders(c: Context): void {
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
  c.header("X-Frame-Options", "DENY");
  c.header(
    "Content-Security-Policy",
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
  );
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
}

/** Every page starts with a doctype, also those of custom renderers: without one browsers use quirks mode. */
export function withDoctype(html: string): string {
  return /^\s*<!doctype html>/i.test(html) ? html : `<!doctype html>${html}`;
}

export async function sendPage(c: Context, html: HtmlContent, status: ContentfulStatusCode = 200): Promise<Response> {
  setPageHeaders(c);
  return c.html(withDoctype(String(await html)), status);
}

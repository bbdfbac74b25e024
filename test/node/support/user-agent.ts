/**
 * A minimal user agent over HTTP for the sign-in and consent pages: a cookie jar, redirects
 * followed by hand (to stop at the client's redirect URI), and forms read from the HTML.
 */

interface Cookie {
  value: string;
  expires?: number;
}

/** Cookies by host and name (the server sets host-only cookies with Path=/). */
export class CookieJar {
  private readonly cookies = new Map<string, Map<string, Cookie>>();

  header(url: URL): string | undefined {
    const jar = this.cookies.get(url.host);
    if (!jar) return undefined;
    const now = Date.now();
    const pairs = [...jar].filter(([, c]) => c.expires === undefined || c.expires > now).map(([name, c]) => `${name}=${c.value}`);
    return pairs.length ? pairs.join("; ") : undefined;
  }

  store(url: URL, setCookies: string[]): void {
    let jar = this.cookies.get(url.host);
    if (!jar) this.cookies.set(url.host, (jar = new Map()));
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(";").map((s) => s.trim());
      const eq = pair!.indexOf("=");
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      let expires: number | undefined;
      for (const attribute of attributes) {
        const [key, val = ""] = attribute.split("=");
        if (key!.toLowerCase() === "max-age") expires = Date.now() + Number(val) * 1000;
        else if (key!.toLowerCase() === "expires" && expires === undefined) expires = Date.parse(val);
      }
      if (value === "" || (expires !== undefined && expires <= Date.now())) jar.delete(name);
      else jar.set(name, { value, expires });
    }
  }
}

export interface Form {
  action: string;
  method: string;
  /** Hidden inputs by name (entities decoded). */
  hidden: Record<string, string>;
  /** Names of the submit buttons. */
  buttons: Record<string, string>;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|quot|amp|lt|gt|apos|#39);/gi, (_, entity: string) => {
    const lower = entity.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(Number(lower.slice(1)));
    return { quot: '"', amp: "&", lt: "<", gt: ">", apos: "'" }[lower]!;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of tag.matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    out[match[1]!.toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? "");
  }
  return out;
}

/** The forms of an HTML page, with their hidden inputs and submit buttons. */
export function parseForms(html: string): Form[] {
  const forms: Form[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(match[1]!);
    const hidden: Record<string, string> = {};
    const buttons: Record<string, string> = {};
    for (const input of match[2]!.matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const a = attributes(input[2]!);
      if (!a.name) continue;
      if (input[1]!.toLowerCase() === "input" && a.type?.toLowerCase() === "hidden") hidden[a.name] = a.value ?? "";
      if (input[1]!.toLowerCase() === "button" && (a.type ?? "submit").toLowerCase() === "submit") buttons[a.name] = a.value ?? "";
    }
    forms.push({ action: attrs.action ?? "", method: (attrs.method ?? "get").toLowerCase(), hidden, buttons });
  }
  return forms;
}

/** The page's referrer policy: a `<meta name="referrer">` wins over the Referrer-Policy header. */
export function referrerPolicy(res: Response, html: string): string {
  const meta = /<meta\b[^>]*\bname\s*=\s*["']?referrer["']?[^>]*>/i.exec(html);
  const fromMeta = meta ? attributes(meta[0]).content : undefined;
  const header = res.headers.get("referrer-policy")?.split(",").map((s) => s.trim()).filter(Boolean).pop();
  return (fromMeta ?? header ?? "").toLowerCase();
}

/**
 * The Origin header of a form POST (Fetch, "append a request `Origin` header"): "null" when the
 * referrer policy hides the origin (`no-referrer`, `same-origin` across origins, an https page
 * posting to http with the strict policies), else the page's origin.
 */
export function requestOrigin(pageUrl: URL, action: URL, policy: string): string {
  if (policy === "no-referrer") return "null";
  if (policy === "same-origin" && action.origin !== pageUrl.origin) return "null";
  const downgrade = pageUrl.protocol === "https:" && action.protocol !== "https:";
  if (downgrade && ["", "no-referrer-when-downgrade", "strict-origin", "strict-origin-when-cross-origin"].includes(policy)) return "null";
  return pageUrl.origin;
}

export class UserAgent {
  readonly jar = new CookieJar();

  /** One request, no redirect following; cookies sent and stored. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(target);
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(target, { ...init, headers, redirect: "manual", signal: init.signal ?? AbortSignal.timeout(15_000) });
    this.jar.store(target, res.headers.getSetCookie());
    return res;
  }

  /**
   * Submits a form of a page, as a browser does: its hidden fields and more, and the Origin header
   * a browser would send for the page's referrer policy (`page`: the page's response and HTML).
   */
  submit(pageUrl: URL, form: Form, fields: Record<string, string>, page?: { res: Response; html: string }): Promise<Response> {
    const action = new URL(form.action || pageUrl.href, pageUrl);
    const policy = page ? referrerPolicy(page.res, page.html) : "";
    return this.fetch(action, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: requestOrigin(pageUrl, action, policy) },
      body: new URLSearchParams({ ...form.hidden, ...fields }).toString(),
    });
  }
}

export interface InteractiveOptions {
  username: string;
  password: string;
  /** What to press on the consent page (default `allow`); a page that is not shown is fine. */
  decision?: "allow" | "cancel";
  /** The client's redirect URI, when it is on the server's own origin (the demo callback). */
  redirectUri?: string;
}

export interface InteractiveResult {
  /** Where the server finally sent the browser: the client's redirect URI with the response. */
  callback: URL;
  /** Whether a login form and a consent form were shown on the way. */
  sawLogin: boolean;
  sawConsent: boolean;
}

/**
 * Follows an authorization request as a browser would: redirects on the server's origin, the
 * sign-in form, the consent form; stops at the first redirect leaving the server's origin (the
 * client's redirect URI, or `redirectUri`). `form_post` responses are not handled (not needed here).
 */
export async function authorizeInteractively(agent: UserAgent, authorizationUrl: URL, options: InteractiveOptions): Promise<InteractiveResult> {
  const serverOrigin = authorizationUrl.origin;
  let url = authorizationUrl;
  let res = await agent.fetch(url);
  let sawLogin = false;
  let sawConsent = false;
  for (let step = 0; step < 12; step++) {
    if (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.get("location")!, url);
      const atClient = location.origin !== serverOrigin || (options.redirectUri !== undefined && location.href.startsWith(`${options.redirectUri}?`));
      if (atClient) return { callback: location, sawLogin, sawConsent };
      url = location;
      res = await agent.fetch(url);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`unexpected ${res.status} at ${url.pathname}:\n${html.slice(0, 2000)}`);
    const forms = parseForms(html);
    const login = forms.find((f) => /name="password"/.test(html) && "csrfmiddlewaretoken" in f.hidden && f.action.includes("/login"));
    const consent = forms.find((f) => "allow" in f.buttons);
    if (login && !sawLogin) {
      sawLogin = true;
      res = await agent.submit(url, login, { username: options.username, password: options.password }, { res, html });
    } else if (consent && !sawConsent) {
      sawConsent = true;
      const decision = options.decision ?? "allow";
      res = await agent.submit(url, consent, { [decision]: consent.buttons[decision] ?? "" }, { res, html });
    } else {
      throw new Error(`no way forward at ${url.href}:\n${html.slice(0, 2000)}`);
    }
    url = new URL(res.url || url.href);
  }
  throw new Error("too many steps in the authorization flow");
}

import { SELF } from "cloudflare:test";
import { BASE } from "./helpers";

/** A minimal browser for tests inside workerd: a cookie jar, redirects by hand, forms read from HTML. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await SELF.fetch(new URL(url, BASE).toString(), { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  get(url: string) {
    return this.fetch(url);
  }

  post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
    return this.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Signs in through the login page, starting from a URL that redirects there. */
  async login(username: string, password: string): Promise<Response> {
    const page = await this.get("/o/login/");
    const fields = hiddenFields(await page.text());
    return this.post("/o/login/", { ...fields, username, password });
  }
}

export function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) {
    out[decodeHtml(match[1]!)] = decodeHtml(match[2]!);
  }
  return out;
}

function decodeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The parameters of a redirect's Location: query or fragment. */
export function redirectParams(res: Response): URLSearchParams & { location: URL } {
  const location = new URL(res.headers.get("location")!, BASE);
  const params = new URLSearchParams(location.hash ? location.hash.slice(1) : location.search) as URLSearchParams & {
    location: URL;
  };
  params.location = location;
  return params;
}

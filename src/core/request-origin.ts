/**
 * The origin and host of a request's URL, without parsing the whole URL on every request. A
 * request's URL comes serialized (`scheme://authority/path?query`): for http and https the path
 * starts at the first "/" after "://", so the text before it parses alone to the same origin and
 * host. Each distinct prefix is parsed once (bounded: the Host header is the client's to choose).
 */
export interface RequestOrigin {
  /** `https://auth.example.com` */
  origin: string;
  /** `auth.example.com`, with the port when it is not the scheme's default */
  host: string;
}

const parsed = new Map<string, RequestOrigin>();

export function requestOrigin(url: string): RequestOrigin {
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  const prefix = pathStart === -1 ? url : url.slice(0, pathStart);
  let found = parsed.get(prefix);
  if (!found) {
    const { origin, host } = new URL(prefix);
    found = { origin, host };
    if (parsed.size >= 64) parsed.clear();
    parsed.set(prefix, found);
  }
  return found;
}

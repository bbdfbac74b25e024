/** The address used when a request carries none (local tests, or a call through a service binding). */
export const UNKNOWN_ADDRESS = "unknown";

const IP_CHARACTERS = /^[0-9A-Fa-f:.]{2,45}$/;

/** The first four groups of an IPv6 address (its /64), or undefined when it is not plain IPv6. */
function ipv6Prefix64(address: string): string | undefined {
  if (address.includes(".")) return undefined;
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return undefined;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * Who is asking, for throttling and rate limits: the `CF-Connecting-IP` header, which Cloudflare
 * sets on every request from the Internet (a client cannot choose it there). An IPv6 address
 * counts as its /64, since one subscriber usually holds a whole /64 and could otherwise take a
 * fresh address per request. Missing or malformed: "unknown", one shared address.
 */
export function clientAddress(headers: Headers): string {
  const raw = headers.get("cf-connecting-ip")?.trim();
  if (!raw || !IP_CHARACTERS.test(raw)) return UNKNOWN_ADDRESS;
  if (!raw.includes(":")) return raw;
  return ipv6Prefix64(raw.toLowerCase()) ?? raw.toLowerCase();
}

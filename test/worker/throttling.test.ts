import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { clientAddress } from "../../src/core/client-address";
import { signInThrottle } from "../../src/db/schema";
import { hiddenFields } from "./support/browser";
import { basic, BASE, createClient, db, form, storageOps } from "./support/helpers";
import { newUser, PASSWORD, unique } from "./support/flow";

/**
 * Sign-in throttling (issue #8, item 7): every attempt is counted before the password is checked,
 * atomically, per username and client address, with a higher ceiling per username; the login form
 * and the password grant share it. Defaults: LOGIN_MAX_FAILURES 5, LOGIN_MAX_FAILURES_PER_USERNAME 100.
 */

const MAX_PER_ADDRESS = 5;
const MAX_PER_USERNAME = 100;
const LOCKED_DESCRIPTION = "too many sign-in attempts for this user; try again later";
/** RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E. */
const RFC6749_DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

let nextAddress = 1;
/** A fresh IPv4 address per call, from 198.18.0.0/15 (reserved for benchmarks, RFC 2544). */
const newAddress = () => {
  const n = nextAddress++;
  return `198.18.${n >> 8}.${n & 255}`;
};

type Outcome = "signed in" | "invalid" | "locked";

/** Posts the login form from `address`, with a fresh CSRF cookie and token. */
async function loginFrom(address: string, username: string, password: string): Promise<Outcome> {
  const page = await SELF.fetch(`${BASE}/o/login/`, { headers: { "cf-connecting-ip": address } });
  const cookie = page.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
  const res = await SELF.fetch(`${BASE}/o/login/`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, cookie, "cf-connecting-ip": address },
    body: form({ ...hiddenFields(await page.text()), username, password }),
  });
  const html = await res.text();
  if (res.status === 429 && html.includes("Too many failed attempts")) return "locked";
  if (res.status === 400 && html.includes("Invalid username or password.")) return "invalid";
  if (res.status === 200 || res.status === 303) return "signed in";
  throw new Error(`unexpected login answer ${res.status}: ${html.slice(0, 200)}`);
}

async function passwordClient() {
  const { clientId, clientSecret } = await createClient({ grantTypes: ["password"] });
  return basic(clientId, clientSecret);
}

/** The password grant from `address` (the address of the client's server). */
async function grantFrom(authorization: string, address: string, username: string, password: string): Promise<Outcome> {
  const res = await SELF.fetch(`${BASE}/o/token/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization, "cf-connecting-ip": address },
    body: form({ grant_type: "password", username, password }),
  });
  const body = await res.json<{ access_token?: string; error?: string; error_description?: string }>();
  if (res.status === 200 && body.access_token) return "signed in";
  expect(res.status).toBe(400);
  expect(body.error).toBe("invalid_grant");
  expect(body.error_description).toMatch(RFC6749_DESCRIPTION);
  if (body.error_description === LOCKED_DESCRIPTION) return "locked";
  expect(body.error_description).toBe("invalid username or password");
  return "invalid";
}

const tally = (outcomes: Outcome[]) => ({
  invalid: outcomes.filter((o) => o === "invalid").length,
  locked: outcomes.filter((o) => o === "locked").length,
  signedIn: outcomes.filter((o) => o === "signed in").length,
});

const throttleRow = (key: string) => db().select().from(signInThrottle).where(eq(signInThrottle.key, key)).get();
const usernameKey = (username: string) => `user:${encodeURIComponent(username)}`;
const addressKey = (username: string, address: string) => `${usernameKey(username)}|addr:${encodeURIComponent(address)}`;

describe("parallel guesses", () => {
  it("60 parallel wrong passwords on the login form: exactly 5 are evaluated, 55 are refused as locked", async () => {
    const { username } = await newUser("burst");
    const address = newAddress();
    const outcomes = await Promise.all(Array.from({ length: 60 }, (_, i) => loginFrom(address, username, `wrong ${i}`)));
    expect(tally(outcomes)).toEqual({ invalid: MAX_PER_ADDRESS, locked: 60 - MAX_PER_ADDRESS, signedIn: 0 });
    // Every attempt was counted against the address; only the evaluated ones against the username.
    expect((await throttleRow(addressKey(username, address)))?.attempts).toBe(60);
    expect((await throttleRow(usernameKey(username)))?.attempts).toBe(MAX_PER_ADDRESS);
    // (Through the password grant: this address has used up its 60 login posts a minute.)
    expect(await grantFrom(await passwordClient(), address, username, PASSWORD)).toBe("locked");
  }, 30_000);

  it("60 parallel password-grant guesses with the right password among them: at most 5 evaluated", async () => {
    const client = await passwordClient();
    const { username } = await newUser("burst");
    const address = newAddress();
    const passwords = Array.from({ length: 60 }, (_, i) => (i === 30 ? PASSWORD : `wrong ${i}`));
    const outcomes = await Promise.all(passwords.map((password) => grantFrom(client, address, username, password)));
    const { invalid, locked, signedIn } = tally(outcomes);
    // The right password gets through only if it was among the 5 evaluated (then its success clears
    // the address's count, and up to 5 more are evaluated after it).
    if (signedIn === 0) expect({ invalid, locked }).toEqual({ invalid: MAX_PER_ADDRESS, locked: 55 });
    else expect(invalid).toBeLessThanOrEqual(2 * MAX_PER_ADDRESS - 1);
    expect(invalid + signedIn + locked).toBe(60);
    expect(locked).toBeGreaterThanOrEqual(60 - 2 * MAX_PER_ADDRESS);
  }, 30_000);
});

describe("throttling per address, with a ceiling per username", () => {
  it("an attacker at address A locks the username for A only; the user at address B still signs in", async () => {
    const { username } = await newUser("victim");
    const [attacker, user] = [newAddress(), newAddress()];
    for (let i = 0; i < MAX_PER_ADDRESS; i++) expect(await loginFrom(attacker, username, `wrong ${i}`)).toBe("invalid");
    expect(await loginFrom(attacker, username, PASSWORD)).toBe("locked");
    expect(await loginFrom(user, username, PASSWORD)).toBe("signed in");
    expect(await loginFrom(attacker, username, PASSWORD)).toBe("locked");
  });

  it("one address alone cannot use up the username's ceiling, however many attempts it makes", async () => {
    const client = await passwordClient();
    const { username } = await newUser("flood");
    const attacker = newAddress();
    // Through the password grant: the login form's rate limit (60 posts a minute) would stop the flood first.
    const outcomes = await Promise.all(
      Array.from({ length: 2 * MAX_PER_USERNAME }, (_, i) => grantFrom(client, attacker, username, `wrong ${i}`)),
    );
    expect(tally(outcomes).invalid).toBe(MAX_PER_ADDRESS);
    expect(await loginFrom(newAddress(), username, PASSWORD)).toBe("signed in");
  }, 30_000);

  it(`failures from many addresses reach the username's ceiling (${MAX_PER_USERNAME}): then it is locked everywhere`, async () => {
    const { username } = await newUser("ceiling");
    const attackers = Array.from({ length: MAX_PER_USERNAME / MAX_PER_ADDRESS }, newAddress);
    const outcomes = await Promise.all(
      attackers.flatMap((address) => Array.from({ length: MAX_PER_ADDRESS }, (_, i) => loginFrom(address, username, `wrong ${i}`))),
    );
    expect(tally(outcomes)).toEqual({ invalid: MAX_PER_USERNAME, locked: 0, signedIn: 0 });
    expect(await loginFrom(newAddress(), username, PASSWORD)).toBe("locked");
    expect(await grantFrom(await passwordClient(), newAddress(), username, PASSWORD)).toBe("locked");
  }, 30_000);

  it("a success forgets the address's failures, and takes back only its own attempt from the username's count", async () => {
    const { username } = await newUser("reset");
    const [user, attacker] = [newAddress(), newAddress()];
    for (let i = 0; i < 3; i++) expect(await loginFrom(attacker, username, `wrong ${i}`)).toBe("invalid");
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MAX_PER_ADDRESS - 1; i++) expect(await loginFrom(user, username, "typo")).toBe("invalid");
      expect(await loginFrom(user, username, PASSWORD)).toBe("signed in");
    }
    expect(await throttleRow(addressKey(username, user))).toBeUndefined();
    // 3 rounds of 4 typos and the attacker's 3 still count; the 3 successes do not.
    expect((await throttleRow(usernameKey(username)))?.attempts).toBe(3 * (MAX_PER_ADDRESS - 1) + 3);
    expect((await throttleRow(addressKey(username, attacker)))?.attempts).toBe(3);
  });

  it("an unknown username is throttled like a known one (the lock does not tell who exists)", async () => {
    const known = await newUser("known");
    const unknown = unique("nobody");
    const address = newAddress();
    for (const username of [known.username, unknown]) {
      for (let i = 0; i < MAX_PER_ADDRESS; i++) expect(await loginFrom(address, username, `wrong ${i}`)).toBe("invalid");
      expect(await loginFrom(address, username, PASSWORD)).toBe("locked");
    }
  });

  it("addresses in one IPv6 /64 share a lock; another /64 does not", async () => {
    const { username } = await newUser("ipv6");
    for (let i = 0; i < MAX_PER_ADDRESS; i++) {
      expect(await loginFrom(`2001:db8:1:2::${(i + 1).toString(16)}`, username, `wrong ${i}`)).toBe("invalid");
    }
    expect(await loginFrom("2001:db8:1:2:abcd:ef01:2345:6789", username, PASSWORD)).toBe("locked");
    expect(await loginFrom("2001:db8:1:3::1", username, PASSWORD)).toBe("signed in");
  });
});

describe("the password grant shares the throttle", () => {
  it("guesses through the password grant lock that address out of the login form too, and not other addresses", async () => {
    const client = await passwordClient();
    const { username } = await newUser("shared");
    const [server, browser] = [newAddress(), newAddress()];
    for (let i = 0; i < MAX_PER_ADDRESS; i++) expect(await grantFrom(client, server, username, `wrong ${i}`)).toBe("invalid");
    expect(await grantFrom(client, server, username, PASSWORD)).toBe("locked");
    expect(await loginFrom(server, username, PASSWORD)).toBe("locked");
    expect(await loginFrom(browser, username, PASSWORD)).toBe("signed in");
    expect(await grantFrom(client, browser, username, PASSWORD)).toBe("signed in");
  });
});

describe("client address", () => {
  const headers = (value?: string) => new Headers(value === undefined ? {} : { "cf-connecting-ip": value });

  it("is CF-Connecting-IP; IPv6 as its /64; missing or malformed is 'unknown'", () => {
    expect(clientAddress(headers("192.0.2.7"))).toBe("192.0.2.7");
    expect(clientAddress(headers("2001:DB8:0001:0002:aaaa:bbbb:cccc:dddd"))).toBe("2001:db8:1:2::/64");
    expect(clientAddress(headers("2001:db8:1:2::1"))).toBe("2001:db8:1:2::/64");
    expect(clientAddress(headers("2001:db8::1"))).toBe("2001:db8:0:0::/64");
    expect(clientAddress(headers("::1"))).toBe("0:0:0:0::/64");
    expect(clientAddress(headers())).toBe("unknown");
    expect(clientAddress(headers(""))).toBe("unknown");
    expect(clientAddress(headers("1.2.3.4|addr:x"))).toBe("unknown");
    expect(clientAddress(headers("not an address"))).toBe("unknown");
  });
});

describe("cost", () => {
  it("password grant on a warm client: 1 D1 round-trip when locked, 2 for a wrong password, 3 for a success", async () => {
    const authorization = await passwordClient();
    const { username } = await newUser("cost");
    const address = newAddress();
    const attempt = (password: string) =>
      SELF.fetch(`${BASE}/o/token/`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization, "cf-connecting-ip": address },
        body: form({ grant_type: "password", username, password }),
      });
    await attempt("warms the client cache");
    // The counting batch (2 statements), then the user's row, then the success batch (2 statements).
    expect(storageOps(await attempt(PASSWORD))).toMatchObject({ d1: 3, d1_statements: 5, kv: 0 });
    for (let i = 0; i < MAX_PER_ADDRESS - 1; i++) expect(storageOps(await attempt("wrong"))).toMatchObject({ d1: 2, d1_statements: 3 });
    expect(storageOps(await attempt("wrong"))).toMatchObject({ d1: 2, d1_statements: 3 });
    // Locked: only the counting batch; the password is not looked at.
    expect(storageOps(await attempt(PASSWORD))).toMatchObject({ d1: 1, d1_statements: 2, kv: 0 });
  });
});

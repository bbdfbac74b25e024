import { verifyPassword } from "../core/crypto";
import type { Database } from "../db/index";
import type { User } from "../db/schema";
import { countSignInAttempt, lockOf, recordSignInSuccess } from "../db/throttle";
import type { ProviderEvent, SignInVia } from "../core/events";
import { findUserById, findUserByUsername } from "../db/users";
import { IsolateCache } from "../core/isolate-cache";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";

/** A user as the provider sees one; hosts with their own user store return this shape. */
export interface Account {
  /** Stable identifier: the `sub` of tokens. */
  id: string;
  username: string;
  email?: string | null;
  /** Changes when the user's credentials change; sessions signed in before then end. */
  credentialVersion: string;
  /** OpenID Connect standard claims (OIDC Core §5.1) known for this user. */
  claims?: Record<string, unknown>;
  /** May use the operator console (OPERATOR_CONSOLE); the built-in users table's `is_operator`. */
  operator?: boolean;
}

/** Where users come from: the built-in D1 table by default; `createProvider({ accounts })` plugs in another. */
export interface AccountStore {
  /** The active user with these credentials, or null. */
  authenticate(db: Database, username: string, password: string): Promise<Account | null>;
  /** The active user with this id, or null when missing or disabled. */
  findById(db: Database, id: string): Promise<Account | null>;
  /**
   * Whether the users are rows of the provider's D1 `users` table, as the built-in store's are:
   * then a refresh checks in its own SQL that the user is active, instead of asking `findById`
   * afterwards, and a signed-in request reads the user's row in the same batch as its session
   * (an account as `findById` of the built-in store gives it), instead of calling `findById`.
   */
  usersTable?: boolean;
}

const toAccount = (row: User): Account => ({
  id: row.id,
  username: row.username,
  email: row.email,
  credentialVersion: row.passwordHash,
  operator: row.isOperator,
  claims: {
    preferred_username: row.username,
    ...(row.email ? { email: row.email, email_verified: false } : {}),
    ...row.claims,
    updated_at: row.updatedAt,
  },
});

/** The account of a row of the built-in `users` table: null when missing or disabled. */
export const accountOfRow = (row: User | undefined): Account | null => (row && row.isActive ? toAccount(row) : null);

// Verified against when the username is unknown, so a miss costs as much time as a wrong password.
const DUMMY_HASH = "pbkdf2_sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

export const builtinAccounts: AccountStore = {
  usersTable: true,
  async authenticate(db, username, password) {
    const row = await findUserByUsername(db, username);
    const valid = await verifyPassword(password, row?.passwordHash ?? DUMMY_HASH);
    return row && valid && row.isActive ? toAccount(row) : null;
  },
  async findById(db, id) {
    return accountOfRow(await findUserById(db, id));
  },
};

/** The throttling keys of one sign-in: the username from one client address, and the username alone. */
function throttleKeys(username: string, address: string) {
  const user = `user:${encodeURIComponent(username)}`;
  return { narrow: `${user}|addr:${encodeURIComponent(address)}`, wide: user };
}

/** Who attempts a sign-in, and where its events go. */
export interface SignInAttempt {
  via: SignInVia;
  /** The client address (`clientAddress`), or "unknown". */
  address: string;
  /** The authenticated client, for the password grant. */
  clientId?: string;
  emit: (event: ProviderEvent) => void;
}

/** The longest username an event repeats: the longest a username may be (registration's limit). */
const USERNAME_IN_EVENTS = 150;

/**
 * A password sign-in, the same for the login form and the password grant, throttled before the
 * password is looked at: each attempt is counted first (one atomic batch), so parallel guesses
 * cannot pass the limit. LOGIN_MAX_FAILURES attempts per username and client address within
 * LOGIN_LOCKOUT_SECONDS lock that address out for that username only; the rightful user elsewhere
 * is not locked out until the username's own ceiling, LOGIN_MAX_FAILURES_PER_USERNAME, is reached.
 * Unknown usernames are counted the same way, so the lock tells nothing about who exists.
 *
 * "locked" while either key is locked (the password is not evaluated), "invalid" for wrong
 * credentials, else the account. Emits `signin.succeeded`, or `signin.failed` (and
 * `signin.locked_out` when locked).
 */
export async function signInWithPassword(
  store: AccountStore,
  db: Database,
  settings: Settings,
  username: string,
  password: string,
  attempt: SignInAttempt,
): Promise<Account | "locked" | "invalid"> {
  const keys = throttleKeys(username, attempt.address);
  const now = nowSeconds();
  const narrow = { key: keys.narrow, limit: settings.LOGIN_MAX_FAILURES };
  const wide = { key: keys.wide, limit: settings.LOGIN_MAX_FAILURES_PER_USERNAME };
  const counted = await countSignInAttempt(db, narrow, wide, { now, windowSeconds: settings.LOGIN_LOCKOUT_SECONDS });
  const source = {
    via: attempt.via,
    username: username.slice(0, USERNAME_IN_EVENTS),
    clientAddress: attempt.address,
    ...(attempt.clientId ? { clientId: attempt.clientId } : {}),
  };
  const lock = lockOf(counted, narrow, wide, now);
  if (lock) {
    attempt.emit({ type: "signin.failed", reason: "locked_out", ...source });
    attempt.emit({ type: "signin.locked_out", ...lock, ...source });
    return "locked";
  }
  const account = await store.authenticate(db, username, password);
  if (!account) {
    attempt.emit({ type: "signin.failed", reason: "invalid_credentials", ...source });
    return "invalid";
  }
  await recordSignInSuccess(db, keys.narrow, keys.wide);
  attempt.emit({ type: "signin.succeeded", userId: account.id, ...source, username: account.username });
  return account;
}

/**
 * Accounts by id, cached per isolate like client records, for the introspection endpoint's
 * `username` (so introspecting an access token needs no D1 query on a warm isolate). A
 * disabled user's tokens introspect as inactive within the cache time.
 */
const accountCache = new IsolateCache<Account | null>();

export function findAccountCached(store: AccountStore, db: Database, id: string, ttlSeconds: number): Promise<Account | null> {
  return accountCache.get(id, ttlSeconds, () => store.findById(db, id));
}

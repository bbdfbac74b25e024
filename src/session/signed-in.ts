import type { Context } from "hono";
import { accountOfRow, type Account, type AccountStore } from "./accounts";
import type { Approval } from "../db/consents";
import { findSignedInRecords } from "../db/sessions";
import { credentialFingerprint, readSession, type Session } from "./cookies";
import { openSession, type Database } from "../db/index";
import { logWarn } from "../core/log";
import { nowSeconds } from "../core/time";

/** What reading a session needs from the provider (its context variables). */
export interface SessionDeps {
  /** The database at the primary. */
  db: Database;
  /** The D1 binding, for reads through D1's Sessions API. */
  d1: D1Database;
  accounts: AccountStore;
  /** SECRET_KEY, or a SettingsError when it is missing. */
  secret: () => string;
}

export interface SignedIn {
  session: Session;
  account: Account;
  /** The user's approval of the client asked about (nothing approved when none was). */
  approval: Approval;
}

export interface SignedInOptions {
  /** A client whose approval by the user is read in the same round-trip. */
  clientId?: string;
  /**
   * Where the session is read. `"primary"` (the default): current, for anything that issues a
   * code or a token, or writes. `"nearby"`: a D1 read replica at least as new as the bookmark
   * the cookie carries (this browser's sign-in and later writes), for answers a replica's lag
   * cannot make unsafe: a page that issues nothing. A cookie without a bookmark is read at the
   * primary, and so is one whose bookmark D1 refuses.
   */
  from?: "primary" | "nearby";
}

type Records = Awaited<ReturnType<typeof findSignedInRecords>>;

/**
 * The session's records in one round-trip, near the user when asked and possible. A bookmark the
 * replica read fails on (D1 refused it, say after a restore) costs a read at the primary, not a 500.
 */
async function readRecords(deps: SessionDeps, session: Session, options: SignedInOptions, userRow: boolean): Promise<Records> {
  const query = { userId: session.userId, approvalOf: options.clientId, userRow };
  const now = nowSeconds();
  if (options.from === "nearby" && session.bookmark !== undefined) {
    try {
      return await findSignedInRecords(openSession(deps.d1, session.bookmark).db, session.sid, now, query);
    } catch (err) {
      logWarn("replica read failed; reading the primary", { detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return findSignedInRecords(deps.db, session.sid, now, query);
}

/**
 * The signed-in user of this browser: the cookie's session must still be recorded (not signed
 * out), the account active, and its password unchanged since. The session, the user's approval
 * of `clientId` and, for the built-in users table, the user come in one D1 round-trip; an account
 * store of the host's own is asked in parallel (at the primary database).
 */
export async function signedInAccount(c: Context, deps: SessionDeps, options: SignedInOptions = {}): Promise<SignedIn | undefined> {
  const secret = deps.secret();
  const session = await readSession(c, secret);
  if (!session) return undefined;
  const userRow = deps.accounts.usersTable === true;
  const [records, ownAccount] = await Promise.all([
    readRecords(deps, session, options, userRow),
    userRow ? undefined : deps.accounts.findById(deps.db, session.userId),
  ]);
  const account = userRow ? accountOfRow(records.user) : ownAccount;
  if (!records.session || records.session.userId !== session.userId || !account) return undefined;
  if (session.fingerprint !== (await credentialFingerprint(secret, account.credentialVersion))) return undefined;
  return { session, account, approval: records.approval };
}

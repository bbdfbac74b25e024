import type { Context } from "hono";
import type { Account } from "./accounts";
import { NOTHING_APPROVED, type Approval } from "../db/consents";
import { findLiveSession, findLiveSessionWithApproval } from "../db/sessions";
import { credentialFingerprint, readSession, type Session } from "./cookies";
import type { Database } from "../db/index";
import type { AccountStore } from "./accounts";
import { nowSeconds } from "../core/time";

/** What reading a session needs from the provider (its context variables). */
export interface SessionDeps {
  db: Database;
  accounts: AccountStore;
  /** SECRET_KEY, or a SettingsError when it is missing. */
  secret: () => string;
}

export interface SignedIn {
  session: Session;
  account: Account;
}

/**
 * The signed-in user of this browser: the cookie's session must still be recorded (not signed
 * out), the account active, and its password unchanged since. With `clientId`, the user's
 * approval of that client comes in the same D1 round-trip as the session check.
 */
export async function signedInAccount(c: Context, provider: SessionDeps): Promise<SignedIn | undefined>;
export async function signedInAccount(c: Context, provider: SessionDeps, clientId: string): Promise<(SignedIn & { approval: Approval }) | undefined>;
export async function signedInAccount(
  c: Context,
  { db, accounts, secret: secretKey }: SessionDeps,
  clientId?: string,
): Promise<(SignedIn & { approval?: Approval }) | undefined> {
  const secret = secretKey();
  const session = await readSession(c, secret);
  if (!session) return undefined;
  const now = nowSeconds();
  const [recorded, account] = await Promise.all([
    clientId === undefined
      ? findLiveSession(db, session.sid, now).then((row) => ({ session: row, approval: NOTHING_APPROVED }))
      : findLiveSessionWithApproval(db, session.sid, now, { userId: session.userId, clientId }),
    accounts.findById(db, session.userId),
  ]);
  if (!recorded.session || recorded.session.userId !== session.userId || !account) return undefined;
  if (session.fingerprint !== (await credentialFingerprint(secret, account.credentialVersion))) return undefined;
  return { session, account, approval: recorded.approval };
}

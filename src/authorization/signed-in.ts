import type { Context } from "hono";
import type { Account } from "../accounts";
import { credentialFingerprint, readSession, type Session } from "../session";
import { requireSecretKey } from "../tokens/secret-keys";
import type { ProviderEnv } from "../types";

/** The signed-in user of this browser, if the session is valid and the account still active. */
export async function signedInAccount(c: Context<ProviderEnv>): Promise<{ session: Session; account: Account } | undefined> {
  const secret = requireSecretKey(c.get("settings").SECRET_KEY);
  const session = await readSession(c, secret);
  if (!session) return undefined;
  const account = await c.get("accounts").findById(c.get("db"), session.userId);
  if (!account) return undefined;
  if (session.fingerprint !== (await credentialFingerprint(secret, account.credentialVersion))) return undefined;
  return { session, account };
}

import { hashPassword } from "../core/crypto";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";
import type { Database } from "../db/index";
import { revokeClientRefreshTokens } from "../db/refresh-tokens";
import type { User } from "../db/schema";
import { deleteUserSessions } from "../db/sessions";
import { setUserActive, setUserPassword } from "../db/users";
import { revokeClientAccessTokens, revokeUserTokens } from "./revocation";

/**
 * What an operator does to users and clients, written once for the admin CLI and the operator
 * console. Refresh tokens and sessions end at once (D1); access tokens through KV notes, within
 * KV's propagation window in other locations.
 */
export interface OperatorStores {
  db: Database;
  kv: Pick<KVNamespace, "put">;
}

type Lifetimes = Pick<Settings, "ACCESS_TOKEN_EXPIRE_SECONDS">;

export interface AccessEnded {
  sessionsEnded: number;
  /** The ended sessions' ids: their relying parties are sent logout tokens (OIDC Back-Channel Logout). */
  endedSessionIds: string[];
  /** Set when tokens were revoked too. */
  refreshTokensRevoked?: number;
}

/** Ends every browser session of a user and, with `revokeTokens`, every token they hold. */
export async function endUserAccess(stores: OperatorStores, userId: string, settings: Lifetimes, revokeTokens: boolean): Promise<AccessEnded> {
  const endedSessionIds = await deleteUserSessions(stores.db, userId);
  const sessionsEnded = endedSessionIds.length;
  if (!revokeTokens) return { sessionsEnded, endedSessionIds };
  const revoked = await revokeUserTokens(stores, userId, settings);
  return { sessionsEnded, endedSessionIds, refreshTokensRevoked: revoked.refreshTokens };
}

/** Stops a user from signing in and ends what they hold; undefined when the user is gone. */
export async function disableUser(stores: OperatorStores, user: User, settings: Lifetimes): Promise<AccessEnded | undefined> {
  if (!(await setUserActive(stores.db, user.username, false))) return undefined;
  return endUserAccess(stores, user.id, settings, true);
}

/** Sets a (checked) new password and ends what the user holds; undefined when the user is gone. */
export async function changeUserPassword(stores: OperatorStores, user: User, password: string, settings: Lifetimes): Promise<AccessEnded | undefined> {
  if (!(await setUserPassword(stores.db, user.username, await hashPassword(password)))) return undefined;
  return endUserAccess(stores, user.id, settings, true);
}

/** Every token a client holds: its refresh tokens, and its access tokens issued until now. Returns the refresh tokens revoked. */
export async function revokeClientTokens(stores: OperatorStores, clientId: string, settings: Lifetimes): Promise<number> {
  const refreshTokens = await revokeClientRefreshTokens(stores.db, clientId, nowSeconds());
  await revokeClientAccessTokens(stores.kv, clientId, settings.ACCESS_TOKEN_EXPIRE_SECONDS);
  return refreshTokens;
}

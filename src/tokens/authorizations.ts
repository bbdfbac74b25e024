import type { Database } from "../db/index";
import { deleteConsent } from "../db/authorizations";
import { revokeUserClientRefreshTokens } from "../db/refresh-tokens";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";
import { revokeGrantAccessTokens, revokeUserClientAccessTokens } from "./revocation";

export interface RevokedAuthorization {
  refreshGrants: number;
  consentForgotten: boolean;
}

/**
 * Takes back what a user gave one client (DOT's authorized-tokens "revoke"): the refresh tokens
 * in D1 (at once), the access tokens through a user-and-client note, which also reaches grants
 * that never had a refresh token, and a grant note per grant found, for resource servers that
 * cannot open a pairwise token's user (as `revokeUserTokens`). Then forgets the consent, so the
 * next authorization asks again.
 */
export async function revokeAuthorization(
  store: { db: Database; kv: Pick<KVNamespace, "put"> },
  userId: string,
  clientId: string,
  settings: Pick<Settings, "ACCESS_TOKEN_EXPIRE_SECONDS">,
): Promise<RevokedAuthorization> {
  const lifetime = settings.ACCESS_TOKEN_EXPIRE_SECONDS;
  const grantIds = await revokeUserClientRefreshTokens(store.db, userId, clientId, nowSeconds());
  await revokeUserClientAccessTokens(store.kv, userId, clientId, lifetime);
  // One at a time: on a deployed namespace each of the CLI's writes is a wrangler process.
  for (const grantId of grantIds) await revokeGrantAccessTokens(store.kv, grantId, lifetime);
  const consentForgotten = await deleteConsent(store.db, userId, clientId);
  return { refreshGrants: grantIds.length, consentForgotten };
}

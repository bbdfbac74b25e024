import { env } from "cloudflare:test";
import { insertRefreshToken } from "../../../src/db/refresh-tokens";
import type { Client } from "../../../src/db/schema";
import { subjectFor } from "../../../src/tokens/subject";
import { parseSettings } from "../../../src/core/settings";
import { loadKeyRing } from "../../../src/tokens/keys";
import { newGrantId, newRefreshToken, userAccessToken } from "../../../src/tokens/user-tokens";
import { BASE, db, ISSUER } from "./helpers";

/**
 * A user's access and refresh token issued the way the token endpoint issues them, without the
 * browser flow: for tests about what happens to tokens afterwards.
 */
export async function mintUserTokens(client: Client, userId: string, scope = ["openid", "read"]) {
  const settings = parseSettings(env as unknown as Record<string, unknown>);
  const grant = { grantId: newGrantId(), userId, scope };
  const ctx = { settings, issuer: ISSUER, audience: BASE };
  const access = await userAccessToken(await loadKeyRing(env.SIGNING_KEYS), ctx, client, grant);
  const refresh = await newRefreshToken(settings, client, grant);
  await insertRefreshToken(db(), refresh.row).run();
  return {
    access_token: access.token,
    refresh_token: refresh.token,
    grantId: grant.grantId,
    /** The `sub` this client sees for the user. */
    sub: await subjectFor(client, userId, settings.SECRET_KEY),
  };
}

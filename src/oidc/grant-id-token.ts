import type { Client } from "../db/schema";
import type { ClaimsRequest } from "../tokens/claims-request";
import { releaseClaims } from "./claims";
import { issueIdToken } from "./id-token";
import { subjectFor } from "../tokens/subject";
import type { ServerContext } from "../types";

export interface IdTokenGrant {
  userId: string;
  scope: readonly string[];
  authTime?: number | null;
  nonce?: string;
  sid?: string;
  claims?: ClaimsRequest;
  /** When no access token comes with the ID token, the scopes' claims go in the ID token (OIDC Core §5.4). */
  withScopeClaims?: boolean;
  accessToken?: string;
  code?: string;
}

/**
 * The ID token for a grant, when the `openid` scope was granted. The user's claims are loaded
 * only when the ID token must carry some, so a plain code exchange costs no extra query.
 */
export async function idTokenForGrant(ctx: ServerContext, client: Client, grant: IdTokenGrant): Promise<string | undefined> {
  if (!grant.scope.includes("openid")) return undefined;
  const wantsClaims = grant.withScopeClaims || Object.keys(grant.claims?.id_token ?? {}).length > 0;
  let claims: Record<string, unknown> | undefined;
  if (wantsClaims) {
    const account = await ctx.accounts.findById(ctx.db, grant.userId);
    claims = releaseClaims(account?.claims ?? {}, grant.scope, grant.claims?.id_token, grant.withScopeClaims === true);
  }
  return issueIdToken(await ctx.keys(), {
    issuer: ctx.issuer,
    client,
    subject: await subjectFor(client, grant.userId, ctx.settings.SECRET_KEY),
    lifetimeSeconds: ctx.settings.ID_TOKEN_EXPIRE_SECONDS,
    authTime: grant.authTime,
    nonce: grant.nonce,
    sid: grant.sid,
    accessToken: grant.accessToken,
    code: grant.code,
    claims,
  });
}

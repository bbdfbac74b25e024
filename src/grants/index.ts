import type { GrantType } from "../db/schema";
import { authorizationCode } from "./authorization-code";
import { clientCredentials } from "./client-credentials";
import { password } from "./password";
import { refreshToken } from "./refresh-token";
import type { Grant } from "./types";

/** The token endpoint dispatches on `grant_type` through this table. */
export const grants: Partial<Record<GrantType, Grant>> = {
  authorization_code: authorizationCode,
  client_credentials: clientCredentials,
  password,
  refresh_token: refreshToken,
};

export function findGrant(grantType: string): Grant | undefined {
  return Object.hasOwn(grants, grantType) ? grants[grantType as GrantType] : undefined;
}

export type { Grant, GrantContext, TokenResponse } from "./types";

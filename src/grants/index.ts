import { TOKEN_EXCHANGE_GRANT } from "../core/protocol";
import type { GrantType } from "../db/schema";
import { authorizationCodeGrant } from "./authorization-code";
import { clientCredentialsGrant } from "./client-credentials";
import { deviceCodeGrant } from "./device-code";
import { passwordGrant } from "./password";
import { refreshTokenGrant } from "./refresh-token";
import { tokenExchangeGrant } from "./token-exchange";
import type { Grant } from "./types";

/** The token endpoint dispatches on `grant_type` through this table. */
export const grants: Partial<Record<GrantType, Grant>> = {
  authorization_code: authorizationCodeGrant,
  client_credentials: clientCredentialsGrant,
  password: passwordGrant,
  refresh_token: refreshTokenGrant,
  "urn:ietf:params:oauth:grant-type:device_code": deviceCodeGrant,
  [TOKEN_EXCHANGE_GRANT]: tokenExchangeGrant,
};

export function findGrant(grantType: string): Grant | undefined {
  return Object.hasOwn(grants, grantType) ? grants[grantType as GrantType] : undefined;
}

export type { Grant, GrantContext, TokenResponse } from "./types";

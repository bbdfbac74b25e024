import type { GrantType } from "../db/schema";
import { clientCredentials } from "./client-credentials";
import type { Grant } from "./types";

/** The token endpoint dispatches on `grant_type` through this table. */
export const grants: Partial<Record<GrantType, Grant>> = {
  client_credentials: clientCredentials,
};

export function findGrant(grantType: string): Grant | undefined {
  return Object.hasOwn(grants, grantType) ? grants[grantType as GrantType] : undefined;
}

export type { Grant, GrantContext, TokenResponse } from "./types";

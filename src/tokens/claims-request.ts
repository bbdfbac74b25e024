/** One member of the `claims` request parameter (OIDC Core §5.5.1). */
export interface ClaimRequest {
  essential?: boolean;
  value?: unknown;
  values?: unknown[];
}

export interface ClaimsRequest {
  userinfo?: Record<string, ClaimRequest | null>;
  id_token?: Record<string, ClaimRequest | null>;
}

import type { AccountStore } from "../session/accounts";
import type { Database } from "../db/index";
import type { ProviderEvent } from "../core/events";
import type { Client } from "../db/schema";
import type { Params } from "../oauth/form";
import type { Settings } from "../core/settings";
import type { KeyRing } from "../tokens/keys";

/** What every grant handler receives: the authenticated client, its parameters and the server's state. */
export interface GrantContext {
  client: Client;
  params: Params;
  settings: Settings;
  db: Database;
  kv: KVNamespace;
  keys: KeyRing;
  issuer: string;
  /** The default `aud` of access tokens. */
  audience: string;
  accounts: AccountStore;
  /** The caller's address (`clientAddress`), for throttling password sign-ins; "unknown" when absent. */
  clientAddress?: string;
  emit: (event: ProviderEvent) => void;
}

/** RFC 6749 §5.1. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

/** A grant type's handler: checks the request's parameters and answers with tokens. */
export type Grant = (ctx: GrantContext) => Promise<TokenResponse>;

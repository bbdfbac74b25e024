import type { Client } from "../db/schema";
import type { DpopProof } from "../oauth/dpop";
import type { Params } from "../oauth/form";
import type { ServerContext } from "../types";

/** What every grant handler receives: the server context, the authenticated client and its parameters. */
export interface GrantContext extends ServerContext {
  client: Client;
  params: Params;
  /** The caller's address (`clientAddress`), for throttling password sign-ins; "unknown" when absent. */
  clientAddress?: string;
  /** A checked DPoP proof (RFC 9449) that came with the request: the tokens are bound to its key (`cnf.jkt`). */
  dpop?: DpopProof;
}

/** RFC 6749 §5.1. */
export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5.1: DPoP when the access token is bound to the proof's key. */
  token_type: "Bearer" | "DPoP";
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
  /** RFC 8693 §2.2.1: the type of the token a Token Exchange issued. */
  issued_token_type?: string;
}

/** A grant type's handler: checks the request's parameters and answers with tokens. */
export type Grant = (ctx: GrantContext) => Promise<TokenResponse>;

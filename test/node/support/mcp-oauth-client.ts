/**
 * An MCP client as an application builds one with the official SDK: `Client` over
 * `StreamableHTTPClientTransport`, with an `OAuthClientProvider` that keeps its client
 * information, tokens and PKCE verifier in memory. Where an application opens a browser, this one
 * drives the authorization URL over HTTP (sign-in and consent forms, test/node/support/user-agent.ts)
 * and takes the code from the redirect to its loopback redirect URI, where nothing listens.
 *
 * Every request the SDK makes (discovery, registration, token, MCP) goes through `fetch` here and
 * is recorded, so a test asserts what the SDK did, not only that it did not throw.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { authorizeInteractively, UserAgent } from "./user-agent";

/** A request the SDK made, and the answer. */
export interface SeenRequest {
  method: string;
  url: URL;
  /** The form or JSON body, as sent. */
  body: string;
  status: number;
  wwwAuthenticate: string | null;
}

export interface TestOAuthClientOptions {
  /** The loopback redirect URI (nothing needs to listen there). */
  redirectUrl: string;
  user: { username: string; password: string };
  /** A client ID metadata document's URL: the SDK uses it as client_id when the server supports them. */
  clientMetadataUrl?: string;
  clientName?: string;
}

export class TestOAuthClient implements OAuthClientProvider {
  readonly agent = new UserAgent();
  /** Every authorization URL the SDK sent the "browser" to, in order. */
  readonly authorizations: URL[] = [];
  /** What the SDK asked to forget (`invalidateCredentials`), in order. */
  readonly invalidations: string[] = [];
  /** Every client information the SDK saved (a registration, or a metadata document URL). */
  readonly savedClients: OAuthClientInformationMixed[] = [];
  readonly clientMetadataUrl?: string;
  private client?: OAuthClientInformationMixed;
  private savedTokens?: OAuthTokens;
  private verifier?: string;
  private pendingCode?: string;
  private expectedState?: string;

  constructor(private readonly options: TestOAuthClientOptions) {
    this.clientMetadataUrl = options.clientMetadataUrl;
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName ?? "SDK test client",
      redirect_uris: [this.options.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  state(): string {
    this.expectedState = crypto.randomUUID();
    return this.expectedState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.savedClients.push(information);
    this.client = information;
  }

  tokens(): OAuthTokens | undefined {
    return this.savedTokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens = tokens;
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error("no code verifier saved");
    return this.verifier;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    this.invalidations.push(scope);
    if (scope === "all" || scope === "client") this.client = undefined;
    if (scope === "all" || scope === "tokens") this.savedTokens = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = undefined;
  }

  /** The "browser": sign in, consent, and keep the code the server redirects back with. */
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.authorizations.push(authorizationUrl);
    const { callback } = await authorizeInteractively(this.agent, authorizationUrl, this.options.user);
    if (`${callback.origin}${callback.pathname}` !== this.options.redirectUrl) {
      throw new Error(`the authorization ended at ${callback.href}, not at the redirect URI`);
    }
    if (callback.searchParams.get("state") !== this.expectedState) throw new Error(`state mismatch at ${callback.href}`);
    const code = callback.searchParams.get("code");
    if (!code) throw new Error(`no code at ${callback.href}`);
    this.pendingCode = code;
  }

  /** The code of the last authorization, once. */
  takeCode(): string {
    const code = this.pendingCode;
    if (!code) throw new Error("no authorization code: redirectToAuthorization was not called");
    this.pendingCode = undefined;
    return code;
  }
}

/** A fetch that records what the SDK sends and gets. */
export function recordingFetch(seen: SeenRequest[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const body = request.body ? await request.clone().text() : "";
    const res = await fetch(request);
    seen.push({ method: request.method, url: new URL(request.url), body, status: res.status, wwwAuthenticate: res.headers.get("www-authenticate") });
    return res;
  };
}

export interface Connection {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

function open(mcpUrl: string, provider: TestOAuthClient, seen: SeenRequest[]): Connection {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: recordingFetch(seen) });
  return { client: new Client({ name: "edge-oauth-toolkit-test", version: "1.0.0" }), transport };
}

/**
 * Connects as an application does: the first attempt may end in UnauthorizedError after the SDK
 * sent the user to authorize; then `finishAuth(code)` exchanges the code, and a new connection
 * uses the tokens.
 */
export async function connectWithAuthorization(mcpUrl: string, provider: TestOAuthClient, seen: SeenRequest[]): Promise<Connection> {
  const first = open(mcpUrl, provider, seen);
  try {
    await first.client.connect(first.transport);
    return first;
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    await first.transport.finishAuth(provider.takeCode());
    await first.client.close();
  }
  const second = open(mcpUrl, provider, seen);
  await second.client.connect(second.transport);
  return second;
}

/** The text of a tool's answer, parsed as JSON (the example's tools answer JSON text). */
export function toolJson(result: unknown): unknown {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  const text = content.find((c) => c.type === "text")?.text;
  if (text === undefined) throw new Error(`no text in ${JSON.stringify(result)}`);
  return JSON.parse(text);
}

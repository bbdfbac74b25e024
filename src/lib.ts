/** The library face: mount the provider in your own Worker, protect your APIs. */
export { createProvider, scheduledCleanup } from "./provider";
export type { ProviderOptions, SettingsOptions } from "./provider";
export type { BindingNames, ProviderBindings, ProviderEnv, ProviderVariables, ServerContext } from "./types";
export { requireToken } from "./middleware/require-token";
export type { RequireTokenOptions, RequireTokenVariables } from "./middleware/require-token";
export { OAuthError } from "./oauth/errors";
export { generateSigningKeySet } from "./tokens/generate-keys";
export type { ErrorCode } from "./oauth/errors";
export type { ProviderEvent, EventHook } from "./core/events";
export type { AccountStore, Account } from "./session/accounts";
export { defaultPages } from "./views/render";
export type { HtmlContent, PageRenderers } from "./views/render";
export type { ConsentPageProps, ErrorPageProps, LoginPageProps, LogoutPageProps, ScopeView } from "./views/pages";
export type { CleanupReport } from "./db/cleanup";
export type { Settings, SettingsInput } from "./core/settings";
export type { AccessTokenClaims } from "./tokens/verify";

/** The library face: mount the provider in your own Worker, protect your APIs. */
export { createProvider } from "./provider";
export type { ProviderOptions } from "./provider";
export { requireToken } from "./middleware/require-token";
export type { RequireTokenOptions, RequireTokenVariables } from "./middleware/require-token";
export type { ProviderEvent, EventHook } from "./core/events";
export type { AccountStore, Account } from "./session/accounts";
export type { PageRenderers } from "./views/render";
export { clearExpired } from "./db/cleanup";
export type { Settings, SettingsInput } from "./core/settings";
export type { AccessTokenClaims } from "./tokens/verify";

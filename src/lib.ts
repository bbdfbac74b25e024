/** The library face: mount the provider in your own Worker, protect your APIs. */
export { createProvider } from "./provider";
export type { ProviderOptions } from "./provider";
export { requireToken } from "./middleware/require-token";
export type { RequireTokenOptions, RequireTokenVariables } from "./middleware/require-token";
export type { ProviderEvent, EventHook } from "./events";
export type { AccountStore, Account } from "./accounts";
export type { PageRenderers } from "./views/render";
export { clearExpired } from "./cleanup";
export type { Settings, SettingsInput } from "./settings";
export type { AccessTokenClaims } from "./tokens/verify";

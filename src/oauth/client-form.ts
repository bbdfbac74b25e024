import type { ClientRegistration } from "../db/registration";
import { clientRegistrationSchema } from "../db/registration";
import type { Client } from "../db/schema";
import type { ApplicationField, ApplicationFormValues } from "../views/application-pages";
import type { Params } from "./form";

/**
 * The client form of the application pages and the operator console: the posted fields as typed,
 * and their problems by field, checked by the admin CLI's schema (the same rules everywhere).
 */

export type FieldErrors = Partial<Record<ApplicationField, string[]>>;

/** Reads every token's details: given by an operator only (the console, the CLI), as for dynamic registration. */
export const OPERATOR_SCOPES = new Set(["introspection"]);

const FIELD_OF_PATH: Partial<Record<string, ApplicationField>> = {
  name: "name",
  clientType: "clientType",
  grantTypes: "grantTypes",
  redirectUris: "redirectUris",
  postLogoutRedirectUris: "postLogoutRedirectUris",
  allowedOrigins: "allowedOrigins",
  resources: "resources",
  scope: "scope",
  skipAuthorization: "skipAuthorization",
  tokenEndpointAuthMethod: "tokenEndpointAuthMethod",
  // Kept from an operator's settings: it must stay on a redirect URI's origin.
  frontchannelLogoutUri: "redirectUris",
};

export const lines = (text: string) => text.split(/\s+/).filter(Boolean);

/** A new client's form: confidential, the code flow with refresh tokens, nothing else filled in. */
export const EMPTY_CLIENT_FORM: ApplicationFormValues = {
  name: "",
  clientType: "confidential",
  grantTypes: ["authorization_code", "refresh_token"],
  redirectUris: "",
  postLogoutRedirectUris: "",
  allowedOrigins: "",
  scope: "",
  skipAuthorization: false,
};

/** The posted form; `operator` reads the console's extra fields (resources, authentication method). */
export function clientFormOfParams(params: Params, grantChoices: readonly string[], operator = false): ApplicationFormValues {
  return {
    name: (params.get("name") ?? "").trim(),
    clientType: params.get("client_type") ?? "",
    grantTypes: grantChoices.filter((grant) => params.has(`grant_${grant}`)),
    redirectUris: params.get("redirect_uris") ?? "",
    postLogoutRedirectUris: params.get("post_logout_redirect_uris") ?? "",
    allowedOrigins: params.get("allowed_origins") ?? "",
    scope: params.get("scope") ?? "",
    skipAuthorization: params.has("skip_authorization"),
    ...(operator ? { resources: params.get("resources") ?? "", tokenEndpointAuthMethod: params.get("token_endpoint_auth_method") ?? "" } : {}),
  };
}

/** What the form holds as the registration input (lists split on white space); the caller adds owner and source. */
export function registrationOfForm(values: ApplicationFormValues): ClientRegistration {
  return {
    name: values.name,
    clientType: values.clientType as ClientRegistration["clientType"],
    grantTypes: values.grantTypes as ClientRegistration["grantTypes"],
    redirectUris: lines(values.redirectUris),
    postLogoutRedirectUris: lines(values.postLogoutRedirectUris),
    allowedOrigins: lines(values.allowedOrigins),
    scope: lines(values.scope).join(" "),
    skipAuthorization: values.skipAuthorization,
    ...(values.resources !== undefined ? { resources: lines(values.resources) } : {}),
    ...(values.tokenEndpointAuthMethod ? { tokenEndpointAuthMethod: values.tokenEndpointAuthMethod as ClientRegistration["tokenEndpointAuthMethod"] } : {}),
  };
}

function addError(errors: FieldErrors, field: ApplicationField, message: string): void {
  (errors[field] ??= []).push(message);
}

/** Messages a person can act on for the few zod messages that speak about arrays and lengths. */
function friendlyMessage(field: ApplicationField, code: string, message: string): string {
  if (field === "grantTypes" && code === "too_small") return "Pick at least one grant type.";
  if (field === "name" && code === "too_small") return "Enter a name.";
  if (field === "clientType") return "Pick confidential or public.";
  return message;
}

/**
 * The registration's problems by field: the shared schema's, then the pages' own rules. Users may
 * not take the operator-only scopes, nor change a client's type (a confidential client turned
 * public would keep a secret it no longer uses, and the reverse would have none).
 */
export function clientFormErrors(input: ClientRegistration, options: { existing?: Client; operator?: boolean } = {}): FieldErrors {
  const errors: FieldErrors = {};
  const checked = clientRegistrationSchema.safeParse(input);
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      const field = FIELD_OF_PATH[String(issue.path[0])] ?? "name";
      addError(errors, field, friendlyMessage(field, issue.code, issue.message));
    }
  }
  if (!options.operator) {
    for (const scope of lines(input.scope ?? "")) {
      if (OPERATOR_SCOPES.has(scope)) addError(errors, "scope", `the ${scope} scope is given by an operator only`);
    }
  }
  if (options.existing && input.clientType !== options.existing.clientType) {
    addError(errors, "clientType", "The client type cannot be changed: register a new application instead.");
  }
  return errors;
}

export const hasErrors = (errors: FieldErrors) => Object.keys(errors).length > 0;

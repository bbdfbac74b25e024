import { isUniqueViolation } from "../db/index";
import type { Context } from "hono";
import { hashSecret, randomToken } from "../core/crypto";
import { DEVICE_CODE_GRANT } from "../core/protocol";
import { nowSeconds } from "../core/time";
import { insertDeviceAuthorization } from "../db/device-authorizations";
import { authenticateClient } from "../oauth/client-auth";
import { invalidRequest, unauthorizedClient } from "../oauth/errors";
import { readFormBody } from "../oauth/form";
import { resolveResources } from "../oauth/resource";
import { parseScope, resolveScope } from "../oauth/scope";
import { DEVICE_VERIFICATION_PATH, formatUserCode, newUserCode } from "../oauth/user-code";
import { clientAssertionContext } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";
import { endpointAddresses } from "./discovery";

type Ctx = Context<ProviderEnv>;

/** RFC 8628 §3.2: the default minimum seconds between polls. */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;

/** A user code collision is rare (20^8 codes); a few fresh draws settle it. */
const USER_CODE_DRAWS = 3;

/**
 * `POST /o/device_authorization/` (RFC 8628 §3.1, §3.2): authenticates the client as the token
 * endpoint does, checks that it has the device grant, its scope and resources as the authorization
 * endpoint would, then records a device code (its SHA-256 hash only) and a user code at the
 * primary, and answers with both, where to enter the user code, the lifetime and the interval.
 */
export async function deviceAuthorizationEndpoint(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  if (c.req.query("client_secret") !== undefined) {
    throw invalidRequest("client credentials must not be sent in the query string");
  }
  const params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  const db = c.get("db");
  const endpoints = endpointAddresses(c.get("endpointBase"));
  const assertion = clientAssertionContext(c.var, { token: endpoints.token_endpoint, here: endpoints.device_authorization_endpoint });
  const { client } = await authenticateClient(db, settings, c.req.header("authorization"), params, assertion);
  if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
    throw unauthorizedClient("this client is not allowed the device_code grant");
  }
  const scope = resolveScope(parseScope(params.get("scope")), client, settings);
  const resources = resolveResources(params.getAll("resource"), { audience: c.get("audience"), settings, client });

  const deviceCode = randomToken(32);
  const expiresIn = settings.DEVICE_CODE_EXPIRE_SECONDS;
  const row = {
    deviceCodeHash: await hashSecret(deviceCode),
    clientId: client.id,
    scope: scope.join(" "),
    resources,
    interval: DEVICE_POLL_INTERVAL_SECONDS,
    expiresAt: nowSeconds() + expiresIn,
  };
  let userCode: string | undefined;
  for (let draw = 1; userCode === undefined; draw++) {
    const candidate = newUserCode();
    try {
      await insertDeviceAuthorization(db, { ...row, userCode: candidate });
      userCode = candidate;
    } catch (err) {
      if (!isUniqueViolation(err) || draw >= USER_CODE_DRAWS) throw err;
    }
  }
  const shown = formatUserCode(userCode);
  const verificationUri = `${c.get("endpointBase")}${DEVICE_VERIFICATION_PATH}`;
  return c.json(
    {
      device_code: deviceCode,
      user_code: shown,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?${new URLSearchParams({ user_code: shown }).toString()}`,
      expires_in: expiresIn,
      interval: DEVICE_POLL_INTERVAL_SECONDS,
    },
    200,
    { "Cache-Control": "no-store", Pragma: "no-cache" },
  );
}

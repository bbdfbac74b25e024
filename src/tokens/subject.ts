import { base64url } from "../core/crypto";
import type { Client } from "../db/schema";
import { macKey, requireSecretKey } from "./secret-keys";

/** The sector of a pairwise client: the host of its redirect URIs (OIDC Core §8.1). */
export function sectorOf(client: Client): string {
  const uri = client.redirectUris[0];
  return uri && URL.canParse(uri) ? new URL(uri).host : client.id;
}

/**
 * The `sub` a client sees: the user's id, or for pairwise clients an HMAC of sector and user id
 * under the server secret, so two sectors cannot correlate users.
 */
export async function subjectFor(client: Client, userId: string, secret: string | undefined): Promise<string> {
  if (client.subjectType !== "pairwise") return userId;
  const data = new TextEncoder().encode(`${sectorOf(client)}\u0000${userId}`);
  const mac = await crypto.subtle.sign("HMAC", await macKey(requireSecretKey(secret), "pairwise subject"), data);
  return base64url(new Uint8Array(mac));
}

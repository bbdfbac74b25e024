import { eq } from "drizzle-orm";
import { nowSeconds } from "../core/time";
import type { Database } from "./index";
import { clientRegistrationSchema, registrationColumns, type ClientRegistration } from "./registration";
import { clients, type Client } from "./schema";

/**
 * The row of a client ID metadata document's client (id = the document's URL). Consents, refresh
 * tokens and code redemptions reference clients by id, so the client needs a row like any other;
 * it is written at the primary (`db` is the binding, never a replica session) each time the
 * document is fetched, with `metadata_expires_at` saying when to fetch it again.
 */
export async function saveDocumentClient(
  db: Database,
  registration: ClientRegistration,
  id: string,
  metadataExpiresAt: number,
): Promise<Client | undefined> {
  const fields = {
    ...registrationColumns(clientRegistrationSchema.parse(registration)),
    source: "metadata_document" as const,
    // Anyone can publish a document: its client never skips the consent page, and belongs to no user.
    skipAuthorization: false,
    userId: null,
    secretHash: null,
    previousSecretHash: null,
    previousSecretExpiresAt: null,
    registrationAccessTokenHash: null,
    metadataExpiresAt,
    updatedAt: nowSeconds(),
  };
  // Only ever a metadata document's row is updated: never an operator's client of the same id.
  const rows = await db
    .insert(clients)
    .values({ id, ...fields })
    .onConflictDoUpdate({ target: clients.id, set: fields, setWhere: eq(clients.source, "metadata_document") })
    .returning();
  return rows[0];
}

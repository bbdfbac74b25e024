import type { Settings } from "../core/settings";
import { findClientCached } from "../db/clients";
import type { Database } from "../db/index";
import type { Client } from "../db/schema";
import { documentClient, isUrlClientId } from "./client-id-document";

/**
 * The client a request names, at the authorization and token endpoints: a registered client from
 * D1 (cached per isolate), or, for a client_id that is a URL, the client its metadata document
 * describes, fetched when the stored copy has expired (`ClientIdDocumentError` when the URL or
 * the document is refused). With CLIENT_ID_METADATA_DOCUMENTS off, a URL is an unknown client_id.
 */
export function findClientForRequest(db: Database, settings: Settings, clientId: string): Promise<Client | undefined> {
  if (!isUrlClientId(clientId)) return findClientCached(db, clientId, settings.CLIENT_CACHE_SECONDS);
  if (!settings.CLIENT_ID_METADATA_DOCUMENTS) return Promise.resolve(undefined);
  return documentClient(db, settings, clientId);
}

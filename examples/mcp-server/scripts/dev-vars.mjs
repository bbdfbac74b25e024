// The provider's two secrets: the package's key generator and Node's own crypto.
//   node scripts/dev-vars.mjs > .dev.vars                                   local development
//   node scripts/dev-vars.mjs keys | npx wrangler secret put SIGNING_KEYS   deployed
//   node scripts/dev-vars.mjs secret | npx wrangler secret put SECRET_KEY
// Keep the deployed key set somewhere safe: a secret cannot be read back.
import { randomBytes } from "node:crypto";
import { generateSigningKeySet } from "edge-oauth-toolkit";

// ES256 signs access tokens (ACCESS_TOKEN_SIGNING_ALG), RS256 the ID tokens of OpenID Connect, EdDSA for clients that pick it.
const signingKeys = async () => JSON.stringify(await generateSigningKeySet());
const secretKey = () => randomBytes(32).toString("base64url");

const which = process.argv[2];
if (which === "keys") process.stdout.write(await signingKeys());
else if (which === "secret") process.stdout.write(secretKey());
else process.stdout.write(`SIGNING_KEYS='${await signingKeys()}'\nSECRET_KEY='${secretKey()}'\n`);

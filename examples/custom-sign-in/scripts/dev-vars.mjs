// The provider's two secrets, made with Node's own crypto (nothing to install).
//   node scripts/dev-vars.mjs > .dev.vars                                   local development
//   node scripts/dev-vars.mjs keys | npx wrangler secret put AUTH_SIGNING_KEYS   deployed
//   node scripts/dev-vars.mjs secret | npx wrangler secret put AUTH_SECRET_KEY
// Keep the deployed key set somewhere safe: a secret cannot be read back.
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";

/** A private JWK with the `kid` and `alg` the provider needs. */
function privateJwk(alg, type, options) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: "jwk" });
  return { ...jwk, kid: `${alg}-${randomUUID()}`, alg, use: "sig" };
}

// ES256 signs access tokens (ACCESS_TOKEN_SIGNING_ALG), RS256 the ID tokens of OpenID Connect.
const signingKeys = () =>
  JSON.stringify({ keys: [privateJwk("ES256", "ec", { namedCurve: "P-256" }), privateJwk("RS256", "rsa", { modulusLength: 2048 })] });
const secretKey = () => randomBytes(32).toString("base64url");

const which = process.argv[2];
if (which === "keys") process.stdout.write(signingKeys());
else if (which === "secret") process.stdout.write(secretKey());
else process.stdout.write(`AUTH_SIGNING_KEYS='${signingKeys()}'\nAUTH_SECRET_KEY='${secretKey()}'\n`);

// A password hash for the users table, in the provider's format (Django's):
// pbkdf2_sha256$<iterations>$<salt>$<base64 hash>.   node scripts/hash-password.mjs 'the password'
import { pbkdf2Sync, randomBytes } from "node:crypto";

const password = process.argv[2];
if (!password) {
  console.error("usage: node scripts/hash-password.mjs <password>");
  process.exit(2);
}
const iterations = 100_000; // the most PBKDF2 iterations Workers allow
const salt = randomBytes(12).toString("hex");
const hash = pbkdf2Sync(password, salt, iterations, 32, "sha256").toString("base64");
console.log(`pbkdf2_sha256$${iterations}$${salt}$${hash}`);

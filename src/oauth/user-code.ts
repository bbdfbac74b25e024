/**
 * RFC 8628 §6.1 user codes: 8 characters from 20 consonants (no vowels, so no words; no digits or
 * letters easily confused), about 34.5 bits, shown as `XXXX-XXXX`. What a user types is
 * normalized before the lookup: case and dashes or spaces do not matter.
 */

/** Where users enter the code (the verification page), under the provider's base path. */
export const DEVICE_VERIFICATION_PATH = "/device/";

export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
export const USER_CODE_LENGTH = 8;

/** A new user code, normalized (no dash), drawn uniformly by rejection sampling. */
export function newUserCode(): string {
  const out: string[] = [];
  const size = USER_CODE_ALPHABET.length;
  const limit = 256 - (256 % size); // 240: bytes at or above it would favour the first letters
  while (out.length < USER_CODE_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(USER_CODE_LENGTH * 2))) {
      if (byte < limit && out.length < USER_CODE_LENGTH) out.push(USER_CODE_ALPHABET[byte % size]!);
    }
  }
  return out.join("");
}

/** `BCDFGHJK` → `BCDF-GHJK`, as the device shows it. */
export const formatUserCode = (code: string): string => `${code.slice(0, 4)}-${code.slice(4)}`;

/**
 * What the user typed, normalized: upper case, without dashes and white space; undefined when it
 * cannot be a user code (wrong length or a character outside the alphabet).
 */
export function normalizeUserCode(typed: string | undefined): string | undefined {
  if (typed === undefined || typed.length > 32) return undefined;
  const code = typed.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== USER_CODE_LENGTH) return undefined;
  return [...code].every((ch) => USER_CODE_ALPHABET.includes(ch)) ? code : undefined;
}

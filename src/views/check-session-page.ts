import { sha256 } from "../core/crypto";

/**
 * The check-session iframe of OpenID Connect Session Management 1.0 §3.3. A client's page frames
 * it and posts `client_id + " " + session_state`; the script recomputes the hash from the sender's
 * origin, the browser-state cookie it reads now and the salt, and answers `unchanged`, `changed`
 * or `error` (a malformed message) to the sender's window, at the sender's origin only.
 */
function checkSessionScript(cookieName: string): string {
  return `"use strict";
const cookieName = ${JSON.stringify(cookieName)};
function browserState() {
  for (const pair of document.cookie.split(";")) {
    const at = pair.indexOf("=");
    if (at > 0 && pair.slice(0, at).trim() === cookieName) return pair.slice(at + 1).trim();
  }
  return "";
}
function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
async function statusOf(origin, message) {
  if (typeof message !== "string") return "error";
  const space = message.lastIndexOf(" ");
  const clientId = message.slice(0, space);
  const sessionState = message.slice(space + 1);
  const dot = sessionState.lastIndexOf(".");
  if (space < 1 || dot < 1 || dot === sessionState.length - 1 || !crypto.subtle) return "error";
  const salt = sessionState.slice(dot + 1);
  const input = new TextEncoder().encode(clientId + " " + origin + " " + browserState() + " " + salt);
  const expected = hex(await crypto.subtle.digest("SHA-256", input)) + "." + salt;
  return expected === sessionState ? "unchanged" : "changed";
}
window.addEventListener("message", async (event) => {
  // A sender without an origin (a sandboxed frame: "null") cannot be answered at its origin alone.
  if (!event.source || event.origin === "null") return;
  event.source.postMessage(await statusOf(event.origin, event.data), event.origin);
});
`;
}

export interface CheckSessionPage {
  html: string;
  /** The script's CSP hash source (`'sha256-…'`): the page is cached and shared, so a nonce would not be secret. */
  scriptHash: string;
}

async function scriptHashOf(script: string): Promise<string> {
  return `'sha256-${btoa(String.fromCharCode(...(await sha256(script))))}'`;
}

const pages = new Map<string, Promise<CheckSessionPage>>();

/** The page for a cookie name (one per scheme), built once per isolate. */
export function checkSessionPage(cookieName: string): Promise<CheckSessionPage> {
  let page = pages.get(cookieName);
  if (!page) {
    const script = checkSessionScript(cookieName);
    page = scriptHashOf(script).then((scriptHash) => ({
      html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Check session</title></head><body><script>${script}</script></body></html>`,
      scriptHash,
    }));
    pages.set(cookieName, page);
  }
  return page;
}

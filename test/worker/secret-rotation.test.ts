import { afterEach, describe, expect, it, vi } from "vitest";
import { CLIENT_RELOAD_INTERVAL_MS, dropPreviousClientSecret, forgetCachedClient } from "../../src/db/clients";
import { rotateClientSecret } from "../../src/db/registration";
import { basic, createClient, db, postToken, storageOps } from "./support/helpers";

/** `client rotate-secret` without a gap: the new secret works at once, the old one until the grace ends. */

const token = (clientId: string, secret: string) => postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, secret) });

async function rotate(clientId: string, graceSeconds: number): Promise<string> {
  const rotated = await rotateClientSecret(db(), clientId, graceSeconds);
  expect(rotated).toBeDefined();
  return rotated!.secret;
}

/** A client whose record this isolate has cached (one token request). */
async function warmClient() {
  const { clientId, clientSecret } = await createClient();
  expect((await token(clientId, clientSecret)).status).toBe(200);
  return { clientId, oldSecret: clientSecret };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("client secret rotation", () => {
  it("the new secret works at once on a warm isolate, the old one until the grace ends", async () => {
    const { clientId, oldSecret } = await warmClient();
    const newSecret = await rotate(clientId, 30);

    const first = await token(clientId, newSecret);
    expect(first.status).toBe(200);
    expect(storageOps(first).d1).toBe(1); // the cached record predates the rotation: read once more
    const warm = await token(clientId, newSecret);
    expect(warm.status).toBe(200);
    expect(storageOps(warm)).toEqual({ d1: 0, d1_statements: 0, kv: 0 });
    expect((await token(clientId, oldSecret)).status).toBe(200);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 31_000);
    const late = await token(clientId, oldSecret);
    expect(late.status).toBe(401);
    expect(late.headers.get("www-authenticate")).toMatch(/^Basic /);
    expect((await token(clientId, newSecret)).status).toBe(200);
  });

  it("with no grace the old secret stops as soon as the isolate has the new record", async () => {
    const { clientId, oldSecret } = await warmClient();
    const newSecret = await rotate(clientId, 0);
    expect((await token(clientId, newSecret)).status).toBe(200);
    expect((await token(clientId, oldSecret)).status).toBe(401);
  });

  it("ending the grace early makes the old secret fail (within the client cache time)", async () => {
    const { clientId, oldSecret } = await warmClient();
    const newSecret = await rotate(clientId, 3600);
    expect((await token(clientId, oldSecret)).status).toBe(200);
    expect(await dropPreviousClientSecret(db(), clientId)).toBe(true);
    forgetCachedClient(clientId); // as when the cache time has passed
    expect((await token(clientId, oldSecret)).status).toBe(401);
    expect((await token(clientId, newSecret)).status).toBe(200);
  });

  it("a flood of wrong secrets costs at most one D1 read per client every few seconds", async () => {
    const { clientId } = await warmClient();
    vi.useFakeTimers({ toFake: ["Date"] });
    const flood = async () => {
      const responses = await Promise.all(Array.from({ length: 5 }, () => token(clientId, "wrong")));
      expect(responses.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
      return responses.reduce((sum, r) => sum + storageOps(r).d1, 0);
    };
    expect(await flood()).toBe(1);
    expect(await flood()).toBe(0);
    vi.setSystemTime(Date.now() + CLIENT_RELOAD_INTERVAL_MS);
    expect(await flood()).toBe(1);
  });

  it("rotating an unknown client changes nothing", async () => {
    expect(await rotateClientSecret(db(), "no-such-client", 30)).toBeUndefined();
  });
});

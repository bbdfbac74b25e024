import { eq } from "drizzle-orm";
import type { Database } from "./index";
import { users, type User } from "./schema";
import { nowSeconds } from "../core/time";

export async function findUserByUsername(db: Database, username: string): Promise<User | undefined> {
  return db.select().from(users).where(eq(users.username, username)).get();
}

export async function findUserById(db: Database, id: string): Promise<User | undefined> {
  return db.select().from(users).where(eq(users.id, id)).get();
}

export async function insertUser(
  db: Database,
  user: { username: string; passwordHash: string; email?: string | null; claims?: Record<string, unknown> | null },
): Promise<User> {
  const [row] = await db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      username: user.username,
      passwordHash: user.passwordHash,
      email: user.email ?? null,
      claims: user.claims ?? null,
    })
    .returning();
  return row!;
}

export async function listUsers(db: Database): Promise<User[]> {
  return db.select().from(users).orderBy(users.createdAt, users.username).all();
}

export async function setUserActive(db: Database, username: string, isActive: boolean): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ isActive, updatedAt: nowSeconds() })
    .where(eq(users.username, username))
    .returning({ id: users.id });
  return rows.length > 0;
}

export async function setUserPassword(db: Database, username: string, passwordHash: string): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ passwordHash, updatedAt: nowSeconds() })
    .where(eq(users.username, username))
    .returning({ id: users.id });
  return rows.length > 0;
}

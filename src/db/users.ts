import { eq } from "drizzle-orm";
import type { Database } from "./index";
import { users, type User } from "./schema";
import { nowSeconds } from "../core/time";

export async function findUserByUsername(db: Database, username: string): Promise<User | undefined> {
  return db.select().from(users).where(eq(users.username, username)).get();
}

/** The query for a user by id, to run alone or inside a batch. */
export const userByIdQuery = (db: Database, id: string) => db.select().from(users).where(eq(users.id, id));

export async function findUserById(db: Database, id: string): Promise<User | undefined> {
  return userByIdQuery(db, id).get();
}

export async function insertUser(
  db: Database,
  user: { username: string; passwordHash: string; email?: string | null; claims?: Record<string, unknown> | null; isOperator?: boolean },
): Promise<User> {
  const [row] = await db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      username: user.username,
      passwordHash: user.passwordHash,
      email: user.email ?? null,
      claims: user.claims ?? null,
      isOperator: user.isOperator ?? false,
    })
    .returning();
  return row!;
}

export const countUsers = (db: Database): Promise<number> => db.$count(users);

export async function listUsers(db: Database): Promise<User[]> {
  return db.select().from(users).orderBy(users.createdAt, users.username).all();
}

/** Changes a user (found by username); false when there is no such user. */
async function updateUser(db: Database, username: string, changes: { isActive?: boolean; passwordHash?: string; isOperator?: boolean }): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ ...changes, updatedAt: nowSeconds() })
    .where(eq(users.username, username))
    .returning({ id: users.id });
  return rows.length > 0;
}

export const setUserActive = (db: Database, username: string, isActive: boolean) => updateUser(db, username, { isActive });

export const setUserPassword = (db: Database, username: string, passwordHash: string) => updateUser(db, username, { passwordHash });

export const setUserOperator = (db: Database, username: string, isOperator: boolean) => updateUser(db, username, { isOperator });

import type { Context } from "hono";
import { defaultPages, type PageRenderers } from "../views/render";

/**
 * The demo user, as `npm start` names it in the DEMO_USER var ("demo / demo-password"). A deployed
 * Worker has no such var, so its login page names nobody.
 */
export function demoUser(c: Context): string | undefined {
  const env: unknown = c.env;
  const value = typeof env === "object" && env !== null ? (env as Record<string, unknown>).DEMO_USER : undefined;
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** The login page of the ready Worker: the provider's own, with a line naming the demo user when there is one. */
export const demoLoginPage: PageRenderers["login"] = (props, c) => {
  const user = demoUser(c);
  return defaultPages.login(user ? { ...props, notice: `Demo user: ${user}` } : props, c);
};

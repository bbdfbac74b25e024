import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";

/** docs/screenshots/ when SCREENSHOTS is set; otherwise the browser tests write nothing into the repository. */
export const SCREENSHOT_DIR = process.env.SCREENSHOTS ? join(import.meta.dirname, "..", "..", "..", "docs", "screenshots") : undefined;

/**
 * A browser test's screenshots: `shot(name)` saves the page as docs/screenshots/NAME.png when
 * SCREENSHOTS is set (the whole page, or what the viewport shows); `sizes()` are the files written.
 */
export function screenshots(page: () => Page) {
  const written: string[] = [];
  return {
    enabled: SCREENSHOT_DIR !== undefined,
    async shot(name: string, fullPage = true): Promise<void> {
      if (!SCREENSHOT_DIR) return;
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page().screenshot({ path, fullPage });
      written.push(path);
    },
    sizes(): { path: string; bytes: number }[] {
      return written.map((path) => ({ path, bytes: statSync(path).size }));
    },
    /** Prints each file written (afterAll). */
    report(): void {
      for (const { path, bytes } of this.sizes()) console.log(`screenshot: ${path} (${bytes} bytes)`);
    },
  };
}

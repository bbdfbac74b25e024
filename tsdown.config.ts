import { defineConfig } from "tsdown";

/**
 * The npm package: `src/lib.ts` bundled to `dist/` as ESM with its type declarations. Hono, jose,
 * Drizzle and zod stay imports (dependencies), so a consumer's Worker bundles one copy of each.
 */
export default defineConfig({
  entry: { index: "src/lib.ts" },
  outDir: "dist/lib",
  format: "esm",
  platform: "neutral",
  target: "es2022",
  dts: true,
  clean: true,
  sourcemap: true,
});

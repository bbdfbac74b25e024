import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/project";

/**
 * The layering of docs/design.md, checked on the source: each file imports only from its own
 * folder or from layers below it, and no two files import each other.
 */
const LAYERS: string[][] = [
  ["core"],
  ["db"],
  ["views"],
  ["oauth"],
  ["tokens"],
  ["session"],
  ["types.ts"],
  ["oidc"],
  ["authorization"],
  ["grants", "middleware"],
  ["routes"],
  ["provider.ts", "worker"],
  ["index.ts", "lib.ts"],
];
const SRC = join(ROOT, "src");

const layerOf = (unit: string) => LAYERS.findIndex((layer) => layer.includes(unit));
/** The folder directly under src/, or the root file's name. */
const unitOf = (file: string) => relative(SRC, file).split("/")[0]!;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** The source files a file imports (relative imports that stay inside src/). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s+"(\.{1,2}\/[^"]+)"/g)]
    .map((match) => normalize(join(dirname(file), match[1]!)))
    .filter((target) => target.startsWith(SRC) && !target.endsWith(".json"))
    .map((target) => (/\.tsx?$/.test(target) ? target : [`${target}.ts`, `${target}.tsx`].find((f) => statSync(f, { throwIfNoEntry: false })) ?? target));
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe("layers (docs/design.md)", () => {
  it("src/ keeps only index.ts, lib.ts, provider.ts and types.ts at its root, and every folder has a layer", () => {
    const rootFiles = readdirSync(SRC).filter((name) => !statSync(join(SRC, name)).isDirectory());
    expect(rootFiles.sort()).toEqual(["index.ts", "lib.ts", "provider.ts", "types.ts"]);
    const unplaced = [...new Set(files.map(unitOf))].filter((unit) => layerOf(unit) === -1);
    expect(unplaced).toEqual([]);
  });

  it("every import points to the same folder or a lower layer", () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const from = unitOf(file);
        const to = unitOf(target);
        if (from !== to && layerOf(to) >= layerOf(from)) upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("no two files import each other", () => {
    const mutual: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (file < target && graph.get(target)?.includes(file)) mutual.push(`${relative(SRC, file)} <-> ${relative(SRC, target)}`);
      }
    }
    expect(mutual).toEqual([]);
  });

  it("the check sees imports at all (it would pass on an empty graph)", () => {
    const edges = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
    expect(edges).toBeGreaterThan(100);
    expect(graph.get(join(SRC, "provider.ts"))).toContain(join(SRC, "routes", "token.ts"));
  });
});

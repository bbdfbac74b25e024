import type { Reporter, TestModule } from "vitest/node";

/** Files that took at least this long are listed (most of the node project's time is in a few). */
const SLOW_FILE_MS = 5_000;

/**
 * Prints the test files that took {@link SLOW_FILE_MS} or more, slowest first (to see where a
 * run's time goes without `--reporter=verbose`), then one plain closing line, `N passed, N failed,
 * N skipped`, after vitest's own summary, for CI systems that read a run's result from its last line.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    process.stdout.write(slowFiles(testModules));
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") counts.failed++;
        else counts.skipped++;
      }
    }
    counts.failed += unhandledErrors.length;
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}

/**
 * `  41.2 s  node  test/node/admin.test.ts` lines: a file's wall time from its import to its last
 * hook (collect + tests and hooks), as vitest's diagnostic gives it.
 */
function slowFiles(testModules: ReadonlyArray<TestModule>): string {
  const timed = testModules
    .map((module) => {
      const { collectDuration, setupDuration, duration } = module.diagnostic();
      return { module, ms: collectDuration + setupDuration + duration };
    })
    .filter(({ ms }) => ms >= SLOW_FILE_MS)
    .sort((a, b) => b.ms - a.ms);
  if (timed.length === 0) return "";
  const lines = timed.map(({ module, ms }) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${module.project.name}  ${module.relativeModuleId}`);
  return `\nTest files of ${SLOW_FILE_MS / 1000} s or more:\n${lines.join("\n")}\n`;
}

/**
 * A per-isolate cache of loads that change rarely (client records, accounts, CORS origins): each
 * value is kept for `ttlSeconds`, concurrent misses share one load, failed loads are not kept, and
 * `keep` decides which results are worth keeping (e.g. not "unknown client", so a new one works
 * at once). Bounded: past `maxEntries` it starts over.
 */
export class IsolateCache<V> {
  private readonly entries = new Map<string, { expires: number; value: Promise<V> }>();

  constructor(
    private readonly keep: (value: V) => boolean = () => true,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, ttlSeconds: number, load: () => Promise<V>): Promise<V> {
    if (ttlSeconds <= 0) return load();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const value = load();
    this.entries.set(key, { expires: now + ttlSeconds * 1000, value });
    value.then(
      (loaded) => this.keep(loaded) || this.entries.delete(key),
      () => this.entries.delete(key),
    );
    return value;
  }

  forget(key?: string): void {
    if (key === undefined) this.entries.clear();
    else this.entries.delete(key);
  }
}

/** The current time in unix seconds: the unit of every timestamp in tokens, D1 rows and KV notes. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

// Shares of a weighted split as people read them: Envoy divides traffic by
// each weight over the sum, so 90 and 20 are 82% and 18%, not 90% and 20%.

/**
 * Each weight's share of the total in whole percent, summing to 100 (the
 * largest remainders get the rounding). An empty or missing weight counts
 * as 0; with nothing to share every share is 0.
 */
export function weightShares(weights: (number | string | undefined)[]): number[] {
  const w = weights.map((x) => Math.max(0, Number(x) || 0));
  const total = w.reduce((a, b) => a + b, 0);
  if (total === 0) return w.map(() => 0);
  const exact = w.map((x) => (x * 100) / total);
  const shares = exact.map(Math.floor);
  let left = 100 - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    shares[i]++;
    left--;
  }
  return shares;
}

/** Percentiles and medians of alternated runs: the only statistics the benchmarks use. */

/** Nearest-rank percentile of ascending-sorted values (`p` in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** A measurement: named numbers (`rps`, `p50Ms`, …). */
export type Metrics = Record<string, number>;

/**
 * Runs each side once per round, in turn (A B A B … or A B C A B C …), so that the machine's
 * drift and other load hit every side alike; returns each metric's median per side.
 */
export async function alternate<Side extends string, M extends Metrics>(
  rounds: number,
  sides: Record<Side, () => Promise<M>>,
): Promise<Record<Side, M>> {
  const names = Object.keys(sides) as Side[];
  const runs = new Map<Side, M[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) runs.get(name)?.push(await sides[name]());
  }
  const medians = {} as Record<Side, M>;
  for (const name of names) {
    const measured = runs.get(name) ?? [];
    const first = measured[0];
    if (!first) throw new Error(`no runs for ${name}`);
    medians[name] = Object.fromEntries(
      Object.keys(first).map((metric) => [metric, median(measured.map((m) => m[metric] ?? NaN))]),
    ) as M;
  }
  return medians;
}

import fc from 'fast-check';

/**
 * The fuzz suites' common fast-check parameters: a fixed seed when `FUZZ_SEED` is set (to replay
 * a failure: fast-check prints the seed and the shrunk counterexample), a bounded number of runs,
 * and a time limit after which the property stops early (counted as passed for the runs done) so
 * a busy machine cannot blow the test timeout.
 */
export function fuzzParameters<T>(numRuns: number, timeLimitMs: number): fc.Parameters<T> {
  const seedText = process.env.FUZZ_SEED;
  const seed = seedText === undefined || seedText === '' ? undefined : Number(seedText);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new Error(`FUZZ_SEED must be an integer, got "${seedText}"`);
  return {
    numRuns,
    plugins: [fc.interruptAfterTimeLimit(timeLimitMs, { failOnInterrupt: false })],
    ...(seed !== undefined ? { seed } : {}),
  };
}

/** Strings that exercise parsers: unicode, control characters, long runs, JSON-ish and key-ish text. */
export const nastyString = (maxLength = 300): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ maxLength }),
    fc.constantFrom(
      '',
      ' ',
      '\t',
      'null',
      'undefined',
      '__proto__',
      'constructor',
      '0',
      '-1',
      '1e309',
      'mcp_',
      // Key-shaped but never a key: built here, so no key-like literal sits in the source.
      `mcp_${'A'.repeat(44)}`,
      'Bearer',
      'Bearer ',
      '%00',
      '%',
      'é',
      '\u202e',
      '💥',
    ),
    fc.integer({ min: 1000, max: 20_000 }).map((length) => 'x'.repeat(length)),
  );

import { describe, expect, it } from 'vitest';
import { pmToolNames } from '../../preload/contract.js';
import { allToolNames } from '../../server/mcp/tools/names.js';

describe("the window's list of tool names", () => {
  it("is the server's list, in the same order (the Keys screen offers exactly what a limit may name)", () => {
    expect([...pmToolNames]).toEqual([...allToolNames]);
  });
});

import { describe, expect, it } from 'vitest';
import { adfToMarkdown, markdownToAdf } from '../../server/providers/jira/adf.js';

const doc = (...content: unknown[]) => ({ type: 'doc', version: 1, content });
const p = (...content: unknown[]) => ({ type: 'paragraph', content });
const text = (value: string, ...marks: unknown[]) => ({
  type: 'text',
  text: value,
  ...(marks.length ? { marks } : {}),
});

describe('ADF ↔ markdown', () => {
  it('round-trips common markdown through marklassian and the walker', () => {
    const markdown = [
      '# Title',
      'Some **bold**, *italic*, `code` and [a link](https://example.com).',
      '- one\n- two\n  - nested',
      '1. first\n2. second',
      '```ts\nconst x = 1;\n```',
      '> quoted',
    ].join('\n\n');
    expect(adfToMarkdown(markdownToAdf(markdown))).toBe(markdown);
  });

  it('writes what Jira itself produces: mentions, emoji, status, dates, cards, hard breaks, rules', () => {
    const adf = doc(
      p(
        { type: 'mention', attrs: { id: '5b10', text: '@Alice' } },
        text(' please look '),
        { type: 'emoji', attrs: { shortName: ':eyes:', text: '👀' } },
        { type: 'hardBreak' },
        { type: 'status', attrs: { text: 'BLOCKED', color: 'red' } },
        text(' since '),
        { type: 'date', attrs: { timestamp: '1735689600000' } },
        text(' see '),
        { type: 'inlineCard', attrs: { url: 'https://jira.example.com/browse/A-1' } },
      ),
      { type: 'rule' },
      { type: 'panel', attrs: { panelType: 'info' }, content: [p(text('Heads up'))] },
      {
        type: 'mediaSingle',
        content: [{ type: 'media', attrs: { type: 'file', id: 'x', alt: 'screenshot.png' } }],
      },
      {
        type: 'taskList',
        content: [{ type: 'taskItem', attrs: { state: 'DONE' }, content: [text('ship')] }],
      },
      p(text('gone', { type: 'strike' }), text(' '), text('under', { type: 'underline' })),
    );
    expect(adfToMarkdown(adf)).toBe(
      [
        '@Alice please look 👀\n[BLOCKED] since 2025-01-01 see <https://jira.example.com/browse/A-1>',
        '---',
        '> Heads up',
        '[attachment: screenshot.png]',
        '- [x] ship',
        '~~gone~~ under',
      ].join('\n\n'),
    );
  });

  it('writes tables as markdown tables', () => {
    const cell = (type: string, value: string) => ({ type, content: [p(text(value))] });
    const adf = doc({
      type: 'table',
      content: [
        { type: 'tableRow', content: [cell('tableHeader', 'Env'), cell('tableHeader', 'URL')] },
        { type: 'tableRow', content: [cell('tableCell', 'prod'), cell('tableCell', 'a|b')] },
      ],
    });
    expect(adfToMarkdown(adf)).toBe('| Env | URL |\n| --- | --- |\n| prod | a\\|b |');
  });

  it('keeps the text of nodes it does not know and ignores non-ADF input', () => {
    expect(adfToMarkdown(doc({ type: 'someFutureBlock', content: [p(text('still here'))] }))).toBe(
      'still here',
    );
    expect(adfToMarkdown(null)).toBe('');
    expect(adfToMarkdown(undefined)).toBe('');
    expect(adfToMarkdown({ nope: true })).toBe('');
    expect(adfToMarkdown('already text')).toBe('already text');
  });

  it('produces a valid ADF document for Jira', () => {
    expect(markdownToAdf('hello')).toEqual({
      type: 'doc',
      version: 1,
      content: [p(text('hello'))],
    });
  });
});

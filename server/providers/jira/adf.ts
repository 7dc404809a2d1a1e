/**
 * Atlassian Document Format, the rich-text shape of Jira Cloud's description and comment bodies.
 * In: markdown → ADF through `marklassian`. Out: a small walker that writes markdown back, so the
 * model reads `**bold**`, lists, code blocks and links rather than a JSON tree. Nodes it does not
 * know are reduced to their text, never dropped.
 */
import { markdownToAdf as marklassianToAdf } from 'marklassian';

export interface AdfDocument {
  type: 'doc';
  version: 1;
  content: unknown[];
}

export function markdownToAdf(markdown: string): AdfDocument {
  const document = marklassianToAdf(markdown);
  return { type: 'doc', version: 1, content: document.content };
}

interface Node {
  type: string;
  text?: string;
  attrs: Record<string, unknown>;
  content: Node[];
  marks: { type: string; attrs: Record<string, unknown> }[];
}

function asNode(value: unknown): Node | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  if (typeof raw.type !== 'string') return undefined;
  const attrs = isRecord(raw.attrs) ? raw.attrs : {};
  const content = Array.isArray(raw.content)
    ? raw.content.map(asNode).filter((node): node is Node => node !== undefined)
    : [];
  const marks = Array.isArray(raw.marks)
    ? raw.marks.flatMap((mark: unknown) =>
        isRecord(mark) && typeof mark.type === 'string'
          ? [{ type: mark.type, attrs: isRecord(mark.attrs) ? mark.attrs : {} }]
          : [],
      )
    : [];
  return {
    type: raw.type,
    ...(typeof raw.text === 'string' ? { text: raw.text } : {}),
    attrs,
    content,
    marks,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringAttr(node: Node, name: string): string | undefined {
  const value = node.attrs[name];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** Markdown for an ADF document (or any ADF node); '' for null, undefined or non-ADF input. */
export function adfToMarkdown(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = asNode(value);
  if (!node) return '';
  return block(node)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function blocks(nodes: Node[], separator = '\n\n'): string {
  return nodes
    .map(block)
    .filter((text) => text !== '')
    .join(separator);
}

function block(node: Node): string {
  switch (node.type) {
    case 'doc':
      return blocks(node.content);
    case 'paragraph':
      return inline(node.content);
    case 'heading': {
      const level = Math.min(6, Math.max(1, Number(node.attrs.level ?? 1) || 1));
      return `${'#'.repeat(level)} ${inline(node.content)}`;
    }
    case 'bulletList':
      return node.content.map((item) => listItem(item, '- ')).join('\n');
    case 'orderedList': {
      const start = Number(node.attrs.order ?? 1) || 1;
      return node.content.map((item, index) => listItem(item, `${start + index}. `)).join('\n');
    }
    case 'taskList':
      return node.content
        .map((item) =>
          item.type === 'taskItem'
            ? `- [${stringAttr(item, 'state') === 'DONE' ? 'x' : ' '}] ${inline(item.content)}`
            : block(item),
        )
        .join('\n');
    case 'codeBlock': {
      const language = stringAttr(node, 'language') ?? '';
      return `\`\`\`${language}\n${node.content.map(plainText).join('')}\n\`\`\``;
    }
    case 'blockquote':
    case 'panel':
      return quote(blocks(node.content));
    case 'rule':
      return '---';
    case 'expand':
    case 'nestedExpand': {
      const title = stringAttr(node, 'title');
      const body = blocks(node.content);
      return title ? `**${title}**\n\n${body}` : body;
    }
    case 'table':
      return table(node);
    case 'mediaSingle':
    case 'mediaGroup':
    case 'mediaInline':
    case 'media': {
      const media =
        node.type === 'media' ? node : node.content.find((child) => child.type === 'media');
      const name = media ? (stringAttr(media, 'alt') ?? stringAttr(media, 'filename')) : undefined;
      return name ? `[attachment: ${name}]` : '[attachment]';
    }
    case 'blockCard':
    case 'embedCard': {
      const url = stringAttr(node, 'url');
      return url ? `<${url}>` : '';
    }
    default:
      // Inline node at block level, or a block type this walker does not know: keep its text.
      return node.content.length > 0 && node.content.every(isBlockish)
        ? blocks(node.content)
        : inline(node.type === 'text' ? [node] : node.content.length > 0 ? node.content : [node]);
  }
}

const blockTypes = new Set([
  'paragraph',
  'heading',
  'bulletList',
  'orderedList',
  'taskList',
  'codeBlock',
  'blockquote',
  'panel',
  'rule',
  'table',
  'mediaSingle',
  'mediaGroup',
  'expand',
  'nestedExpand',
  'blockCard',
  'embedCard',
]);

function isBlockish(node: Node): boolean {
  return blockTypes.has(node.type);
}

function listItem(item: Node, marker: string): string {
  const indent = ' '.repeat(marker.length);
  const children = item.type === 'listItem' ? item.content : [item];
  const text = children
    .map(block)
    .filter((part) => part !== '')
    .join('\n');
  const [first = '', ...rest] = text.split('\n');
  return [marker + first, ...rest.map((line) => (line === '' ? '' : indent + line))].join('\n');
}

function quote(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? '>' : `> ${line}`))
    .join('\n');
}

function table(node: Node): string {
  const rows = node.content
    .filter((row) => row.type === 'tableRow')
    .map((row) =>
      row.content.map((cell) =>
        blocks(cell.content, ' ').replace(/\|/g, '\\|').replace(/\n/g, ' '),
      ),
    );
  if (rows.length === 0) return '';
  const width = Math.max(...rows.map((row) => row.length));
  const line = (cells: string[]): string =>
    `| ${Array.from({ length: width }, (_, index) => cells[index] ?? '').join(' | ')} |`;
  const [header = [], ...body] = rows;
  return [line(header), line(Array.from({ length: width }, () => '---')), ...body.map(line)].join(
    '\n',
  );
}

function inline(nodes: Node[]): string {
  return nodes.map(inlineNode).join('');
}

function inlineNode(node: Node): string {
  switch (node.type) {
    case 'text':
      return withMarks(node.text ?? '', node.marks);
    case 'hardBreak':
      return '\n';
    case 'mention':
      return stringAttr(node, 'text') ?? `@${stringAttr(node, 'id') ?? 'someone'}`;
    case 'emoji':
      return stringAttr(node, 'text') ?? stringAttr(node, 'shortName') ?? '';
    case 'inlineCard': {
      const url = stringAttr(node, 'url');
      return url ? `<${url}>` : '';
    }
    case 'status':
      return `[${stringAttr(node, 'text') ?? ''}]`;
    case 'date': {
      const timestamp = Number(stringAttr(node, 'timestamp'));
      return Number.isFinite(timestamp) ? new Date(timestamp).toISOString().slice(0, 10) : '';
    }
    case 'placeholder':
      return '';
    default:
      return isBlockish(node) ? block(node) : inline(node.content);
  }
}

function plainText(node: Node): string {
  if (node.type === 'text') return node.text ?? '';
  if (node.type === 'hardBreak') return '\n';
  return node.content.map(plainText).join('');
}

function withMarks(text: string, marks: Node['marks']): string {
  if (text === '') return '';
  let result = text;
  const has = (type: string): boolean => marks.some((mark) => mark.type === type);
  if (has('code')) result = `\`${result}\``;
  if (has('strike')) result = `~~${result}~~`;
  if (has('em')) result = `*${result}*`;
  if (has('strong')) result = `**${result}**`;
  const link = marks.find((mark) => mark.type === 'link');
  const href = link && typeof link.attrs.href === 'string' ? link.attrs.href : undefined;
  if (href) result = `[${result}](${href})`;
  return result;
}

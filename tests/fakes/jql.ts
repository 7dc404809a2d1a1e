/**
 * A small JQL parser for the Jira fakes: clauses joined by AND / OR / NOT with parentheses,
 * the operators `= != ~ !~ > >= < <= IN NOT IN IS IS NOT`, string / bare / function / list / EMPTY
 * values, and ORDER BY. Enough for what real clients send; anything else is the 400 Jira gives.
 */

export class JqlError extends Error {}

export type JqlValue =
  | { kind: 'string'; value: string }
  | { kind: 'function'; name: string }
  | { kind: 'list'; values: JqlValue[] }
  | { kind: 'empty' };

export type JqlOperator =
  '=' | '!=' | '~' | '!~' | '>' | '>=' | '<' | '<=' | 'in' | 'not in' | 'is' | 'is not';

export type JqlExpr =
  | { kind: 'and' | 'or'; left: JqlExpr; right: JqlExpr }
  | { kind: 'not'; expr: JqlExpr }
  | { kind: 'clause'; field: string; operator: JqlOperator; value: JqlValue };

export interface JqlQuery {
  where: JqlExpr | null;
  orderBy: { field: string; direction: 'asc' | 'desc' }[];
}

interface Token {
  type: 'string' | 'word' | 'op' | 'lparen' | 'rparen' | 'comma';
  text: string;
  position: number;
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < input.length) {
    const char = input[index] ?? '';
    if (/\s/.test(char)) {
      index++;
      continue;
    }
    if (char === '"' || char === "'") {
      let value = '';
      let cursor = index + 1;
      for (; cursor < input.length; cursor++) {
        const current = input[cursor] ?? '';
        if (current === '\\') {
          value += input[cursor + 1] ?? '';
          cursor++;
        } else if (current === char) break;
        else value += current;
      }
      if (cursor >= input.length) {
        throw new JqlError(
          `Error in the JQL Query: The quoted string '${value}' has not been completed. (line 1, character ${index + 1})`,
        );
      }
      tokens.push({ type: 'string', text: value, position: index });
      index = cursor + 1;
      continue;
    }
    if (char === '(' || char === ')' || char === ',') {
      tokens.push({
        type: char === '(' ? 'lparen' : char === ')' ? 'rparen' : 'comma',
        text: char,
        position: index,
      });
      index++;
      continue;
    }
    const op = /^(!=|!~|>=|<=|=|~|>|<)/.exec(input.slice(index));
    if (op?.[0]) {
      tokens.push({ type: 'op', text: op[0], position: index });
      index += op[0].length;
      continue;
    }
    const word = /^[\w.\-:]+/.exec(input.slice(index));
    if (word?.[0]) {
      tokens.push({ type: 'word', text: word[0], position: index });
      index += word[0].length;
      continue;
    }
    throw new JqlError(
      `Error in the JQL Query: The character '${char}' is a reserved JQL character. (line 1, character ${index + 1})`,
    );
  }
  return tokens;
}

export function parseJql(input: string): JqlQuery {
  const tokens = tokenize(input);
  let position = 0;
  const peek = (): Token | undefined => tokens[position];
  const isWord = (token: Token | undefined, ...words: string[]): boolean =>
    token?.type === 'word' && words.includes(token.text.toLowerCase());
  const fail = (expected: string): never => {
    const token = peek();
    throw new JqlError(
      token
        ? `Error in the JQL Query: Expecting ${expected} but got '${token.text}'. (line 1, character ${token.position + 1})`
        : `Error in the JQL Query: Expecting ${expected} before the end of the query.`,
    );
  };

  function parseOr(): JqlExpr {
    let left = parseAnd();
    while (isWord(peek(), 'or')) {
      position++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  }

  function parseAnd(): JqlExpr {
    let left = parseNot();
    while (isWord(peek(), 'and')) {
      position++;
      left = { kind: 'and', left, right: parseNot() };
    }
    return left;
  }

  function parseNot(): JqlExpr {
    if (isWord(peek(), 'not')) {
      position++;
      return { kind: 'not', expr: parseNot() };
    }
    if (peek()?.type === 'lparen') {
      position++;
      const inner = parseOr();
      if (peek()?.type !== 'rparen') fail("')'");
      position++;
      return inner;
    }
    return parseClause();
  }

  function parseClause(): JqlExpr {
    const fieldToken = peek();
    if (!fieldToken || (fieldToken.type !== 'word' && fieldToken.type !== 'string')) {
      return fail('a field name');
    }
    position++;
    const operator = parseOperator();
    const value = parseValue(operator);
    return { kind: 'clause', field: fieldToken.text.toLowerCase(), operator, value };
  }

  function parseOperator(): JqlOperator {
    const token = peek();
    if (token?.type === 'op') {
      position++;
      return token.text as JqlOperator;
    }
    if (isWord(token, 'in')) {
      position++;
      return 'in';
    }
    if (isWord(token, 'is')) {
      position++;
      if (isWord(peek(), 'not')) {
        position++;
        return 'is not';
      }
      return 'is';
    }
    if (isWord(token, 'not') && isWord(tokens[position + 1], 'in')) {
      position += 2;
      return 'not in';
    }
    return fail('operator');
  }

  function parseValue(operator: JqlOperator): JqlValue {
    const token = peek();
    if (operator === 'in' || operator === 'not in') {
      if (token?.type !== 'lparen') fail("'('");
      position++;
      const values: JqlValue[] = [];
      while (peek()?.type !== 'rparen') {
        values.push(parseSingleValue());
        if (peek()?.type === 'comma') position++;
        else if (peek()?.type !== 'rparen') fail("',' or ')'");
      }
      position++;
      return { kind: 'list', values };
    }
    return parseSingleValue();
  }

  function parseSingleValue(): JqlValue {
    const token = peek();
    if (token?.type === 'string') {
      position++;
      return { kind: 'string', value: token.text };
    }
    if (token?.type === 'word') {
      position++;
      if (['empty', 'null'].includes(token.text.toLowerCase())) return { kind: 'empty' };
      if (peek()?.type === 'lparen') {
        position++;
        if (peek()?.type !== 'rparen') fail("')'");
        position++;
        return { kind: 'function', name: token.text.toLowerCase() };
      }
      return { kind: 'string', value: token.text };
    }
    return fail('a value');
  }

  let where: JqlExpr | null = null;
  if (tokens.length > 0 && !isWord(peek(), 'order')) where = parseOr();
  const orderBy: JqlQuery['orderBy'] = [];
  if (isWord(peek(), 'order')) {
    position++;
    if (!isWord(peek(), 'by')) fail("'by'");
    position++;
    for (;;) {
      const field = peek();
      if (field?.type !== 'word' && field?.type !== 'string') fail('a field name');
      position++;
      let direction: 'asc' | 'desc' = 'asc';
      if (isWord(peek(), 'asc', 'desc')) {
        direction = (peek()?.text.toLowerCase() ?? 'asc') as 'asc' | 'desc';
        position++;
      }
      orderBy.push({ field: field?.text.toLowerCase() ?? '', direction });
      if (peek()?.type !== 'comma') break;
      position++;
    }
  }
  if (position < tokens.length) fail("'AND', 'OR' or 'ORDER BY'");
  return { where, orderBy };
}

import type { ServerResponse } from 'node:http';

/**
 * The few HTML pages the server shows a person (OAuth login, consent, errors, SSO results):
 * plain forms, no script at all, one stylesheet from `/oauth/static/pages.css`, and a strict CSP.
 * `form-action` is left out on purpose: a browser applies it to the redirect that ends a
 * consent (to the client's own redirect URI), which would block every authorization.
 */
export const pageSecurityHeaders: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // Not no-referrer: that makes a browser send `Origin: null` with the form posts.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export const stylesheetPath = '/oauth/static/pages.css';

export const stylesheet = `:root{color-scheme:light dark;--fg:#1b1f24;--bg:#f6f7f9;--card:#fff;--line:#d0d5dc;--accent:#1f5fbf;--error:#b42318}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--bg:#15181c;--card:#1e2228;--line:#3a414b;--accent:#6ea8ff;--error:#ff8a80}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:26rem;margin:3rem auto;padding:1.5rem;background:var(--card);border:1px solid var(--line);border-radius:8px}
h1{font-size:1.35rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input[type=email],input[type=password]{width:100%;padding:.5rem;border:1px solid var(--line);border-radius:4px;font:inherit;background:var(--bg);color:var(--fg)}
button,.button{display:inline-block;margin-top:1rem;padding:.55rem 1rem;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:#fff;font:inherit;cursor:pointer;text-decoration:none}
button.secondary{background:transparent;color:var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{color:var(--error);font-weight:600}.muted{opacity:.8;font-size:.9rem}ul{padding-left:1.2rem}
.row{display:flex;gap:.5rem;flex-wrap:wrap}hr{border:0;border-top:1px solid var(--line);margin:1.25rem 0}
`;

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A complete page; `body` must already be escaped (build it with `escapeHtml`). */
export function renderPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · PM MCP</title>
<link rel="stylesheet" href="${stylesheetPath}">
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

export function sendPage(res: ServerResponse, status: number, title: string, body: string): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(pageSecurityHeaders)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(renderPage(title, body));
}

/** An error page naming the RFC 6749 error code, so a person can report it. */
export function errorPageBody(error: string, description: string | undefined): string {
  return `<p class="error" role="alert">${escapeHtml(description ?? 'The request could not be completed.')}</p>
<p class="muted">Error code: <code>${escapeHtml(error)}</code></p>`;
}

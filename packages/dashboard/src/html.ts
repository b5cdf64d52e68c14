import * as fs from 'fs';
import * as path from 'path';

/**
 * The HTML shell of the dashboard's own pages. The page is self-contained: the stylesheet and the script
 * (packages/dashboard/static, read once) are inlined with a per-response nonce that the Content-Security-
 * Policy requires, so nothing is loaded from anywhere else and no injected markup could run.
 */

const STATIC_DIR = path.join(__dirname, '..', 'static');
let assets: { css: string; js: string } | undefined;

function loadAssets() {
  assets ??= {
    css: fs.readFileSync(path.join(STATIC_DIR, 'run-page.css'), 'utf8'),
    // The charting primitives shared with `mat report` (chart-core.js) first: run-page.js uses them.
    js:
      fs.readFileSync(path.join(STATIC_DIR, 'chart-core.js'), 'utf8') +
      '\n' +
      fs.readFileSync(path.join(STATIC_DIR, 'run-page.js'), 'utf8'),
  };
  return assets;
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function shell(nonce: string, title: string, body: string, withScript: boolean): string {
  const { css, js } = loadAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${css}</style>
</head>
<body>
<header class="top">
  <a class="brand" href="/">MAT dashboard</a>
  <nav><a href="/">Runs</a><a href="/queues">Queues</a></nav>
  <span id="live" class="live" aria-live="polite"></span>
</header>
${body}
${withScript ? `<script nonce="${nonce}">${js}</script>` : ''}
</body>
</html>
`;
}

/** The live page: the list of runs (no run id), one run's curves and workers, or several runs compared. */
export function renderAppPage(
  nonce: string,
  opts: { runId?: string; compare?: string[]; pollMs: number },
): string {
  const runAttr = opts.runId
    ? ` data-run-id="${escapeHtml(opts.runId)}"`
    : opts.compare
      ? ` data-compare="${escapeHtml(opts.compare.join(','))}"`
      : '';
  const title = opts.runId
    ? `${opts.runId} · MAT dashboard`
    : opts.compare
      ? 'Compare runs · MAT dashboard'
      : 'Runs · MAT dashboard';
  return shell(
    nonce,
    title,
    `<main id="app"${runAttr} data-poll-ms="${opts.pollMs}"><p class="muted">loading…</p></main>`,
    true,
  );
}

/** An error page (401, 404, 503): says what happened and, for 401, offers a token field. */
export function renderMessagePage(
  nonce: string,
  opts: { status: number; title: string; message: string; tokenForm?: boolean },
): string {
  const form = opts.tokenForm
    ? `<form method="get" class="token-form">
  <label>Dashboard token <input type="password" name="token" autocomplete="current-password" required></label>
  <button type="submit">Open</button>
</form>`
    : '';
  return shell(
    nonce,
    `${opts.status} ${opts.title} · MAT dashboard`,
    `<main class="message" data-status="${opts.status}">
  <h1>${opts.status} — ${escapeHtml(opts.title)}</h1>
  <p>${escapeHtml(opts.message)}</p>
  ${form}
</main>`,
    false,
  );
}

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ExpressAdapter } from '@bull-board/express';

/**
 * bull-board's page template asks fonts.googleapis.com for a web font: offline (a cluster without internet)
 * the request hangs or fails and the page waits on it. This adapter renders bull-board's own templates with
 * every link to another origin removed (its CSS falls back to the system fonts); its scripts and styles are
 * served from the package as before.
 */
export class OfflineExpressAdapter extends ExpressAdapter {
  override setViewsPath(viewPath: string): ExpressAdapter {
    return super.setViewsPath(offlineViews(viewPath));
  }
}

/** An external <link> (fonts, preconnect): any link whose href is absolute (http:, https: or //). */
const EXTERNAL_LINK = /<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi;

export function withoutExternalLinks(html: string): string {
  return html.replace(EXTERNAL_LINK, '');
}

let written: { from: string; to: string } | undefined;

/** The templates of `viewPath` without external links, in a directory of this process (written once). */
function offlineViews(viewPath: string): string {
  if (written?.from === viewPath) return written.to;
  const to = fs.mkdtempSync(path.join(os.tmpdir(), 'mat-bull-board-views-'));
  for (const file of fs.readdirSync(viewPath).filter((f) => f.endsWith('.ejs')))
    fs.writeFileSync(
      path.join(to, file),
      withoutExternalLinks(fs.readFileSync(path.join(viewPath, file), 'utf8')),
    );
  written = { from: viewPath, to };
  return to;
}

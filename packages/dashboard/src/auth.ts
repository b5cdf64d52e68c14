import { createHash, createHmac, timingSafeEqual } from 'crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Token protection for every route but /healthz. A client proves it knows the token by
 *   - the header `Authorization: Bearer <token>` (scripts, curl), or
 *   - `?token=<token>` once: the answer sets an HttpOnly session cookie and, for a page, redirects to the
 *     same URL without the token so that it leaves the address bar and the history.
 * The cookie holds HMAC(token, purpose), not the token. All comparisons are of SHA-256 digests with
 * timingSafeEqual: constant time, and no leak of the token's length. The token is never logged.
 */

export const SESSION_COOKIE = 'mat_dashboard_session';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

function sameSecret(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

/**
 * The cookie's value, undefined when absent. A value that is not valid percent-encoding cannot be a
 * session this dashboard set (it sets hex): it reads as '' — a wrong session, answered with 401 — rather
 * than as an exception that would surface as a server error.
 */
function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return '';
      }
    }
  }
  return undefined;
}

/** The credentials of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235 §2.1). */
function bearerToken(auth: string | undefined): string | undefined {
  const match = auth === undefined ? null : /^bearer[ \t]+(.*)$/is.exec(auth.trim());
  return match ? match[1].trim() : undefined;
}

/** Where an unauthorised request goes: a JSON error for the API and scripts, an HTML page for a browser. */
export type Refusal = (req: Request, res: Response, reason: 'missing' | 'wrong') => void;

export function tokenGuard(token: string, refuse: Refusal): RequestHandler {
  if (token.length === 0) throw new Error('the dashboard token must not be empty');
  const tokenDigest = digest(token);
  const session = createHmac('sha256', token).update('mat-dashboard-session/v1').digest('hex');
  const sessionDigest = digest(session);

  return (req: Request, res: Response, next: NextFunction) => {
    const auth = req.headers.authorization;
    const bearer = bearerToken(auth);
    const query = typeof req.query.token === 'string' ? req.query.token : undefined;
    const cookie = readCookie(req, SESSION_COOKIE);

    // A token that is presented and wrong is refused even if a valid cookie came along: the user asked
    // to use that token, and silently ignoring it would hide a mistake.
    const presented = bearer ?? query;
    if (presented !== undefined) {
      if (!sameSecret(presented, tokenDigest)) return refuse(req, res, 'wrong');
      if (query !== undefined) {
        res.cookie(SESSION_COOKIE, session, {
          httpOnly: true,
          sameSite: 'strict',
          path: '/',
          secure: req.secure,
        });
        if (req.method === 'GET' && req.accepts(['html', 'json']) === 'html') {
          const url = new URL(req.originalUrl, 'http://dashboard.invalid');
          url.searchParams.delete('token');
          return res.redirect(303, url.pathname + url.search);
        }
      }
      return next();
    }
    if (cookie !== undefined && sameSecret(cookie, sessionDigest)) return next();
    return refuse(req, res, 'missing');
  };
}

/**
 * Content-Security-Policy shared by both GUI hosts (daemon HTTP, Electron's app:// protocol): only
 * the GUI's own scripts, styles and images; no inline script, eval, frames, plugins or forms.
 */

/** Content-Security-Policy of the GUI; `connect` adds allowed WebSocket origins. */
export function guiContentSecurityPolicy(connect: string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "font-src 'self'",
    `connect-src 'self'${connect.length ? ' ' + connect.join(' ') : ''}`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}


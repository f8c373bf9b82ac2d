/**
 * Masks credentials in URIs before they reach a message or a log line. A store or
 * webhook URI may carry `user:password@`; only the password is secret, so the user
 * stays visible to help whoever reads the message.
 */

// scheme://user:password@ — the password may hold anything but '@', '/' and whitespace.
const CREDENTIALS = /([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/g;

/** Returns `text` with the password of every `scheme://user:password@` URI in it replaced by `***`. */
export function redactUri(text: string): string {
  return text.replace(CREDENTIALS, '$1:***@');
}

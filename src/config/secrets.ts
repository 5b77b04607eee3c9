/**
 * Passwords this process has been given, so every line qtool prints can be scrubbed of them
 * as a last line of defence (a broker or socket error could, in principle, echo one back).
 */
const secrets = new Set<string>();

/** The well-known default password is no secret, and scrubbing it would mangle the user name 'guest'. */
const NOT_SECRET = new Set(['', 'guest']);

/**
 * Scrubbing a one- or two-letter password would blank out those letters everywhere, so very
 * short ones are not scrubbed; qtool never formats a password in the first place.
 */
const MIN_SCRUBBED_LENGTH = 4;

export function rememberSecret(secret: string): void {
  if (!NOT_SECRET.has(secret) && secret.length >= MIN_SCRUBBED_LENGTH) secrets.add(secret);
}

/**
 * A short all-lowercase password ('wrong', 'name', 'secret') is also an English word, and
 * blanking it everywhere turned "wrong username or password" into "*** username or password".
 * Such a password is scrubbed only where a password sits: in a URL's user-info (`:secret@`).
 */
function looksLikeAWord(secret: string): boolean {
  return /^[a-z]+$/.test(secret) && secret.length < 8;
}

/** Replaces every remembered password in `text` (raw or percent-encoded) with `***`. */
export function scrubSecrets(text: string): string {
  let scrubbed = text;
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      scrubbed = looksLikeAWord(secret)
        ? scrubbed.split(`:${form}@`).join(':***@')
        : scrubbed.split(form).join('***');
    }
  }
  return scrubbed;
}

/** Message bodies are bytes; these helpers decide how a person or a JSON reader sees them. */

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text, or null when it is not valid UTF-8. */
export function decodeUtf8(body: Uint8Array): string | null {
  try {
    return strictUtf8.decode(body);
  } catch {
    return null;
  }
}

/** The body for JSON output: text when it is valid UTF-8, else base64 with `encoding` saying so. */
export function bodyForJson(body: Buffer): { body: string; encoding?: 'base64' } {
  const text = decodeUtf8(body);
  return text === null ? { body: body.toString('base64'), encoding: 'base64' } : { body: text };
}

/** The body for a terminal line: quoted text, shortened, control characters escaped; binary summarised. */
export function bodyForDisplay(body: Buffer, maxChars = 60): string {
  const text = decodeUtf8(body);
  if (text === null) return `<${body.length} bytes, not text>`;
  const chars = [...text];
  const shown = chars.length > maxChars ? `${chars.slice(0, maxChars - 1).join('')}…` : text;
  return JSON.stringify(shown);
}

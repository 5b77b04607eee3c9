/** Small formatting helpers shared by every command's human output. */

/** `12:04:05.120`: a wall-clock time precise enough to compare panes. */
export function clockTime(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** `850 ms`, `5.0 s`, `2 min 5 s`, `1 h 2 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min ${seconds} s`;
}

/**
 * 12345 -> "12,345", as toLocaleString('en-US') writes it. Not toLocaleString itself: its first
 * call loads ICU's locale data, about 30 ms of a one-shot command that prints one number.
 */
export function thousands(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Messages per second, rounded to what a person can read. */
export function formatRate(count: number, ms: number): string {
  if (ms <= 0) return `${count} msg/s`;
  const rate = (count * 1000) / ms;
  return `${rate >= 100 ? thousands(Math.round(rate)) : rate.toFixed(1)} msg/s`;
}

/** `1 message`, `3 messages`. */
export function plural(count: number, noun: string): string {
  return `${thousands(count)} ${noun}${count === 1 ? '' : 's'}`;
}

/** One word of a POSIX shell command we show or type, single-quoted only when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

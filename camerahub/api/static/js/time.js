// Times travel as UTC ISO 8601 (with Z) and are shown in, and entered as, Asia/Tokyo.

export const ZONE = 'Asia/Tokyo';
const TOKYO_OFFSET = '+09:00'; // Japan has kept +09:00 without summer time since 1951

const formats = new Map();

function formatter(lang, withSeconds) {
  const key = `${lang}|${withSeconds}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'ja-JP', {
      timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined,
      hourCycle: 'h23',
    }));
  }
  return formats.get(key);
}

/** A UTC instant (ISO string or Date) shown in Tokyo time; '' for nothing. */
export function showTime(value, lang, withSeconds = true) {
  if (!value) return '';
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  if (lang !== 'en') return `${formatter(lang, withSeconds).format(date)} JST`;
  // English: ISO order (2026-12-02 09:30:00 JST), never 02/12/2026, which reads both ways
  const p = Object.fromEntries(formatter(lang, withSeconds).formatToParts(date)
    .map(({type, value}) => [type, value]));
  const time = withSeconds ? `${p.hour}:${p.minute}:${p.second}` : `${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day} ${time} JST`;
}

/** A datetime-local value (YYYY-MM-DDTHH:MM[:SS]) read as Tokyo time, as UTC ISO with Z. */
export function tokyoInputToUtc(value) {
  if (!value) return null;
  const full = value.length === 16 ? `${value}:00` : value;
  const date = new Date(`${full}${TOKYO_OFFSET}`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A UTC instant as a datetime-local value in Tokyo time (for pre-filling inputs). */
export function utcToTokyoInput(value) {
  const date = value instanceof Date ? value : new Date(value);
  const tokyo = new Date(date.getTime() + 9 * 3600 * 1000);
  return tokyo.toISOString().slice(0, 19);
}

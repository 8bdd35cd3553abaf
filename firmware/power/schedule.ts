// Pin schedules (`pinSchedule: ["Mon-Fri 08:00-18:00"]`): hours in which a host is pinned awake
// whatever demand says. Days are Mon..Sun, ranges (Mon-Fri, Fri-Mon wraps), lists (Mon,Wed) or
// `daily`; a window whose end is before its start runs past midnight. Times are the node's local time.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

export interface PinWindow {
  /** Days (0 = Sunday, as Date#getDay) on which the window starts. */
  days: ReadonlySet<number>;
  startMinute: number;
  endMinute: number;
}

function dayIndex(text: string): number | undefined {
  const index = DAYS.findIndex((d) => d.toLowerCase() === text.toLowerCase());
  return index < 0 ? undefined : index;
}

function parseDays(text: string): Set<number> | undefined {
  if (text.toLowerCase() === 'daily') return new Set([0, 1, 2, 3, 4, 5, 6]);
  const days = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to, extra] = part.split('-');
    if (extra !== undefined || from === undefined) return undefined;
    const a = dayIndex(from);
    const b = to === undefined ? a : dayIndex(to);
    if (a === undefined || b === undefined) return undefined;
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  }
  return days;
}

function parseTime(text: string): number | undefined {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  if (!match) return undefined;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (minutes > 59 || hours > 24 || (hours === 24 && minutes !== 0)) return undefined;
  return hours * 60 + minutes;
}

export function parsePinWindow(text: string): PinWindow | undefined {
  const match = /^\s*(\S+)\s+(\d{2}:\d{2})-(\d{2}:\d{2})\s*$/.exec(text);
  if (!match) return undefined;
  const days = parseDays(match[1]!);
  const startMinute = parseTime(match[2]!);
  const endMinute = parseTime(match[3]!);
  if (!days || startMinute === undefined || endMinute === undefined || startMinute === endMinute) return undefined;
  return { days, startMinute, endMinute };
}

/** Whether `at` (epoch ms) falls in any window, in the process's local time zone. */
export function pinnedBySchedule(windows: readonly PinWindow[], at: number): boolean {
  const date = new Date(at);
  const day = date.getDay();
  const minute = date.getHours() * 60 + date.getMinutes();
  return windows.some((w) => {
    if (w.startMinute < w.endMinute) return w.days.has(day) && minute >= w.startMinute && minute < w.endMinute;
    // Past midnight: the evening part on a listed day, the morning part on the day after one.
    return (w.days.has(day) && minute >= w.startMinute) || (w.days.has((day + 6) % 7) && minute < w.endMinute);
  });
}

// `struct input_event` records from /dev/input/eventN (linux/input.h): on 64-bit Linux 24 bytes,
//   0..7  tv_sec  (s64)   8..15 tv_usec (s64)   16..17 type (u16)   18..19 code (u16)   20..23 value (s32)
// little-endian on x86-64 and arm64. A read may end mid-record: the tail is handed back for the next.

export const INPUT_EVENT_SIZE = 24;

export const EV_SYN = 0x00;
export const EV_KEY = 0x01;

export interface InputEvent {
  /** Kernel timestamp in milliseconds (CLOCK_MONOTONIC unless the device was switched). */
  timeMs: number;
  type: number;
  code: number;
  /** For EV_KEY: 1 press, 0 release, 2 autorepeat. */
  value: number;
}

export function decodeInputEvents(bytes: Uint8Array): { events: InputEvent[]; rest: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: InputEvent[] = [];
  let offset = 0;
  for (; offset + INPUT_EVENT_SIZE <= bytes.byteLength; offset += INPUT_EVENT_SIZE) {
    const sec = Number(view.getBigInt64(offset, true));
    const usec = Number(view.getBigInt64(offset + 8, true));
    events.push({
      timeMs: sec * 1000 + usec / 1000,
      type: view.getUint16(offset + 16, true),
      code: view.getUint16(offset + 18, true),
      value: view.getInt32(offset + 20, true),
    });
  }
  return { events, rest: bytes.subarray(offset) };
}

export function encodeInputEvent(event: InputEvent): Uint8Array {
  const bytes = new Uint8Array(INPUT_EVENT_SIZE);
  const view = new DataView(bytes.buffer);
  const sec = Math.floor(event.timeMs / 1000);
  view.setBigInt64(0, BigInt(sec), true);
  view.setBigInt64(8, BigInt(Math.round((event.timeMs - sec * 1000) * 1000)), true);
  view.setUint16(16, event.type, true);
  view.setUint16(18, event.code, true);
  view.setInt32(20, event.value, true);
  return bytes;
}

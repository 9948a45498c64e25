import { randomFillSync } from 'node:crypto';

/** `tsk_` + creation time (base36, fixed width) + randomness: ids sort by creation. */
export function newTaskId(now: Date): string {
  return `tsk_${now.getTime().toString(36).padStart(9, '0')}${randomHex(12)}`;
}

/** Random bytes are drawn 4 KiB at a time: one `randomFillSync` per id costs more than the id. */
const RANDOM_POOL = Buffer.alloc(4096);
let randomOffset = RANDOM_POOL.length;

function randomHex(chars: number): string {
  const bytes = chars / 2;
  if (randomOffset + bytes > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  const hex = RANDOM_POOL.toString('hex', randomOffset, randomOffset + bytes);
  randomOffset += bytes;
  return hex;
}

/**
 * Backpressure on fetching. Fetching pauses while memory is at `critical` (held until the level is
 * back under `shed`) or while more than `queuedWindowsMax` closed windows wait (held until the
 * queue is down to half of that); under memory pressure (`shed` and up) windows close at a quarter
 * of `batchMaxEvents`, so less is held at once. Independent of the positions alarm, which pauses
 * the topic on its own: the topic is resumed only when neither holds.
 */
import type { Consumer } from 'kafkajs';
import type { Logger } from '../../../shared/src/logger.js';
import type { MemoryPressure } from '../../../shared/src/memory-budget.js';
import { DEFAULT_QUEUED_WINDOWS_MAX } from './config.js';

export interface FetchHold {
  /** A window's size now: a quarter of batchMaxEvents under memory pressure. */
  windowMaxEvents(): number;
  /** Why fetching is paused for backpressure, or null. */
  held(): string | null;
  /** Pauses or resumes fetching as the memory level and the queue now say. */
  update(): void;
  /** Fetching has begun: holds from now on. */
  consuming(): void;
  /** Stops listening to the memory level. */
  stop(): void;
}

export function createFetchHold(deps: {
  readonly consumer: Pick<Consumer, 'pause' | 'resume'>;
  readonly config: {
    readonly topic: string;
    readonly batchMaxEvents: number;
    readonly queuedWindowsMax?: number;
  };
  readonly logger: Logger;
  readonly memory?: MemoryPressure;
  /** Closed windows waiting for a writer. */
  readonly queued: () => number;
  /** True while the positions alarm keeps the topic paused. */
  readonly positionsRefused: () => boolean;
  readonly stopping: () => boolean;
}): FetchHold {
  const { consumer, config, logger, memory } = deps;
  let held: string | null = null;
  let memoryHeld = memory?.level() === 'critical';
  let consuming = false;
  const stopListening = memory?.onChange((level, previous) => {
    if (level === 'critical') memoryHeld = true;
    else if (level === 'ok' || level === 'warn') memoryHeld = false;
    if (level === 'shed' && previous !== 'critical')
      logger.warn({ level, windowMaxEvents: windowMaxEvents() }, 'memory pressure: windows shrink');
    update();
  });

  function windowMaxEvents(): number {
    const level = memory?.level() ?? 'ok';
    return level === 'shed' || level === 'critical'
      ? Math.max(1, Math.floor(config.batchMaxEvents / 4))
      : config.batchMaxEvents;
  }

  function holdReason(): string | null {
    if (memoryHeld) return 'memory pressure critical';
    // Once held for the queue, held until the queue is down to half the bound, not one below it.
    const max = config.queuedWindowsMax ?? DEFAULT_QUEUED_WINDOWS_MAX;
    const bound = held === 'window queue full' ? Math.floor(max / 2) : max;
    return deps.queued() > bound ? 'window queue full' : null;
  }

  function update(): void {
    if (!consuming || deps.stopping()) return;
    const reason = holdReason();
    if (reason === held) return;
    if (held === null) {
      logger.warn({ reason, queued: deps.queued() }, 'fetching paused');
      consumer.pause([{ topic: config.topic }]);
    } else if (reason === null) {
      logger.info({ queued: deps.queued(), positionsAlarm: deps.positionsRefused() }, 'fetching resumed');
      // The positions alarm keeps its own pause: the positions gate resumes when it clears.
      if (!deps.positionsRefused()) consumer.resume([{ topic: config.topic }]);
    }
    held = reason;
  }

  return {
    windowMaxEvents,
    held: () => held,
    update,
    consuming() {
      consuming = true;
      update();
    },
    stop: () => stopListening?.(),
  };
}

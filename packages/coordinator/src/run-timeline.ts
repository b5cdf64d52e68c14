import { NO_HISTORY, PhaseClock, type RunHistory, type RunTiming } from '@mat/core';
import type { MetricsEntry } from '@mat/exchange';

/**
 * A distributed run's time and history, replayed from its metrics stream (every entry carries its time: the
 * stream id's milliseconds): waiting for workers from `create` to the first `generation`; training from a
 * `generation` until a worker is `lost` or a peer diverged (`rollback`), recovery from there to the next
 * `generation`; evaluation from the last step's checkpoint to the end. A restarted coordinator reads the
 * stream again from its start, so it loses nothing of what happened while none was running.
 */
export class RunTimeline {
  private clock = new PhaseClock();
  private readonly counts: RunHistory = { ...NO_HISTORY };
  /** The furthest step any peer reported: what a generation starting at an earlier step takes again. */
  private furthest = 0;
  /** Time of the newest entry read (ms). */
  private latest = 0;

  constructor(private readonly lastStep: number) {}

  get history(): RunHistory {
    return { ...this.counts };
  }

  /** The phases' totals up to `atMs` (the current phase counted until then). */
  timing(atMs: number): RunTiming {
    return this.clock.timing(Math.max(atMs, this.latest));
  }

  /** Takes one entry of the stream, written at `atMs`. */
  take(entry: MetricsEntry, atMs: number): void {
    this.latest = Math.max(this.latest, atMs);
    const { clock } = this;
    switch (entry.type) {
      case 'run':
        switch (entry.event) {
          case 'create':
          case 'resume':
            // Registered again while it trained (Redis lost the run): recovering, else waiting for workers.
            clock.enter(clock.phase && this.counts.generations > 0 ? 'recovery' : 'waiting', atMs);
            return;
          case 'generation': {
            const from = entry.step ?? 0;
            this.counts.generations++;
            this.counts.stepsRedone += Math.max(0, this.furthest - from);
            this.furthest = from;
            clock.enter('training', atMs);
            return;
          }
          case 'rollback':
            this.counts.rollbacks++;
            clock.enter('recovery', atMs);
            return;
          case 'stalled':
            clock.enter('recovery', atMs);
            return;
          case 'finished':
          case 'stopped':
          case 'failed':
            clock.stop(atMs);
            return;
          default:
            return;
        }
      case 'worker':
        if (entry.event !== 'lost') return;
        this.counts.lostWorkers++;
        if (clock.phase === 'training') clock.enter('recovery', atMs);
        return;
      case 'step':
        this.furthest = Math.max(this.furthest, entry.step);
        return;
      case 'checkpoint':
        if (entry.step >= this.lastStep) clock.enter('evaluation', atMs);
        return;
      default:
        return;
    }
  }
}

/** The time (ms epoch) a stream id `1700000000000-3` was written at. */
export function streamIdTime(id: string): number {
  return Number(id.split('-')[0]) || 0;
}

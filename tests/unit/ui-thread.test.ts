// The e2e suite's UI-thread instrument (tests/e2e/lib/ui-thread.mjs) on hand-made traces: with
// thread CPU time (tdur) and without it, as some machines of our kind record them.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM without types (tests/e2e is Node scripts)
import { summarize, uiThreadTasks, withoutThreadTime } from '../../tests/e2e/lib/ui-thread.mjs';

const PID = 7;
const MAIN = 1;
/** A trace whose UI thread ran tasks of the given [wall ms, cpu ms | undefined]. */
function trace(tasks: Array<[number, number | undefined]>) {
  const events: object[] = [
    { name: 'TracingStartedInBrowser', ph: 'I', ts: 0, args: { data: { frames: [{ processId: PID, isOutermostMainFrame: true }] } } },
    { name: 'thread_name', ph: 'M', pid: PID, tid: MAIN, args: { name: 'CrRendererMain' } },
    { name: 'thread_name', ph: 'M', pid: PID, tid: 2, args: { name: 'Compositor' } },
  ];
  let ts = 1000;
  for (const [wall, cpu] of tasks) {
    events.push({
      name: 'ThreadControllerImpl::RunTask',
      ph: 'X',
      pid: PID,
      tid: MAIN,
      ts,
      dur: wall * 1000,
      ...(cpu === undefined ? {} : { tdur: cpu * 1000 }),
    });
    ts += wall * 1000 + 10;
  }
  // another thread's long task never counts
  events.push({ name: 'ThreadControllerImpl::RunTask', ph: 'X', pid: PID, tid: 2, ts: 0, dur: 900_000, tdur: 900_000 });
  return { traceEvents: events };
}

describe('UI-thread check', () => {
  it("judges by thread CPU time where the trace has it: a busy machine's slow clock is not a long task", () => {
    const r = summarize(
      uiThreadTasks(
        trace([
          [137, 6],
          [20, 18],
          [60, 55],
        ]),
      ),
    );
    expect(r.clock).toBe('thread CPU');
    expect(r.long.map((t: { wallMs: number }) => t.wallMs)).toEqual([60]);
  });

  it('falls back to the clock where tasks carry no thread CPU time, and says so', () => {
    const r = summarize(
      uiThreadTasks(
        trace([
          [137, undefined],
          [40, undefined],
          [300, undefined],
        ]),
      ),
    );
    expect(r.clock).toBe('wall clock');
    expect(r.long.map((t: { wallMs: number }) => t.wallMs)).toEqual([300]);
  });

  it('mixes per task when only some tasks have thread CPU time', () => {
    const r = summarize(
      uiThreadTasks(
        trace([
          [80, 70],
          [210, undefined],
          [100, undefined],
        ]),
      ),
    );
    expect(r.clock).toMatch(/thread CPU for 1 of 3 tasks/);
    expect(r.long.map((t: { wallMs: number }) => t.wallMs)).toEqual([80, 210]);
  });

  it('a 300 ms task is caught by either clock', () => {
    const tasks = uiThreadTasks(
      trace([
        [5, 4],
        [300, 290],
        [10, 3],
      ]),
    );
    expect(summarize(tasks).long).toHaveLength(1);
    expect(summarize(withoutThreadTime(tasks)).long).toHaveLength(1);
  });

  it('a trace without the main frame is an error, not an empty pass', () => {
    expect(() => uiThreadTasks({ traceEvents: [] })).toThrow(/main frame/);
  });
});

// How busy the page's UI thread was while something happened, from a Chromium trace.
//
// Why a trace and not the Long Tasks API: a long task is measured in wall-clock time, which also
// counts the time the operating system gave to other processes. Here SwiftShader (WebGPU on the
// CPU) and the test runner keep both cores busy: the WebGPU suite once saw a 137 ms long task right
// after the first image; traced, that task (the worker's message → paint, history.replaceState)
// took 34 ms by the clock and 6 ms of the UI thread's CPU. What the app controls is how much work
// it puts on the UI thread, so the check is each task's thread CPU time. A thread can also block
// without using CPU (a synchronous GPU readback, a wait on another process): a task is long as
// well when its clock time passes a bar loose enough for a busy machine's scheduling.
//
// Not every platform gives thread CPU time: on some machines of our kind (same Debian Chromium,
// other kernel) trace events carry no `tdur`. There a task's clock time is all there is, and the
// bar for it (WALL_ONLY_LONG_TASK_MS) sits well above the worst scheduling delay seen on a busy
// machine (137 ms) so it does not flake, while still catching any task four times the Long
// Tasks API's bar. Each result says which clock it used (`clock`), and the suites print it.

/** A task that uses more of the UI thread's CPU than this blocks input (the Long Tasks API's bar). */
export const LONG_TASK_MS = 50;
/** ... or that takes this long by the clock (blocked, not computing); 137 ms was the worst flake seen. */
export const BLOCKED_TASK_MS = 250;
/** Where a task has no thread CPU time: long when its clock time passes this (137 ms flake + margin). */
export const WALL_ONLY_LONG_TASK_MS = 200;

const CATEGORIES = ['toplevel', 'disabled-by-default-devtools.timeline'];
/** Browsers with a trace running (started here, not yet stopped). */
const tracing = new WeakSet();

/**
 * Starts tracing `page`; the returned `stop()` ends it and gives the tasks that ran on the page's
 * UI thread meanwhile, each `{ atMs, wallMs, cpuMs, what }` (atMs from the start of tracing).
 */
export async function traceUiThread(browser, page) {
  // A test that failed between start and stop left its trace running; the browser allows one.
  if (tracing.has(browser)) await browser.stopTracing().catch(() => undefined);
  await browser.startTracing(page, { categories: CATEGORIES });
  tracing.add(browser);
  return {
    stop: async () => {
      tracing.delete(browser);
      return uiThreadTasks(JSON.parse((await browser.stopTracing()).toString('utf8')));
    },
  };
}

/**
 * The UI thread's tasks in a trace; throws when the trace cannot say (no main frame, no tasks).
 * A task without thread CPU time in the trace gets `cpuMs: null` and is judged by its clock time.
 */
export function uiThreadTasks(trace) {
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  const started = events.find((e) => e.name === 'TracingStartedInBrowser');
  const frame = started?.args?.data?.frames?.find((f) => f.isOutermostMainFrame ?? !f.parent);
  if (!frame) throw new Error('trace: no TracingStartedInBrowser event naming the main frame');
  const threadName = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [`${e.pid}/${e.tid}`, e.args.name]));
  const onMain = (e) => e.pid === frame.processId && threadName.get(`${e.pid}/${e.tid}`) === 'CrRendererMain';
  const main = events.filter((e) => e.ph === 'X' && onMain(e));
  // Tasks nest (a task runs inside the thread controller's own task): keep the outermost ones.
  // Same start: the longer one is the outer one.
  const runs = main.filter((e) => e.name === 'ThreadControllerImpl::RunTask').sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const outer = [];
  for (const e of runs) {
    const last = outer[outer.length - 1];
    if (!last || e.ts >= last.ts + last.dur) outer.push(e);
  }
  if (outer.length === 0) throw new Error(`trace: no tasks on the UI thread of process ${frame.processId}`);
  const t0 = started.ts;
  return outer.map((task) => ({
    atMs: Math.round((task.ts - t0) / 1000),
    wallMs: Math.round(task.dur / 100) / 10,
    cpuMs: task.tdur === undefined ? null : Math.round(task.tdur / 100) / 10,
    // only where a report may show it: the search is over every event of the thread
    what: task.dur / 1000 > LONG_TASK_MS ? heaviestInside(task, main) : '',
  }));
}

/** The names of the three events inside `task` that used the most CPU: what a failure message needs. */
function heaviestInside(task, events) {
  return events
    .filter((e) => e !== task && e.name !== 'ThreadControllerImpl::RunTask' && e.ts >= task.ts && e.ts + (e.dur ?? 0) <= task.ts + task.dur)
    .sort((a, b) => (b.tdur ?? 0) - (a.tdur ?? 0))
    .slice(0, 3)
    .map((e) => `${e.name} ${((e.tdur ?? 0) / 1000).toFixed(1)} ms`)
    .join(', ');
}

/** Which clock judged `tasks`: 'thread CPU', 'wall clock' (no thread times) or a mix of both. */
export function clockOf(tasks) {
  const withCpu = tasks.filter((t) => t.cpuMs !== null).length;
  if (withCpu === tasks.length) return 'thread CPU';
  if (withCpu === 0) return 'wall clock';
  return `thread CPU for ${withCpu} of ${tasks.length} tasks, wall clock for the rest`;
}

/** Whether one task blocked input: by its CPU time where the trace has it, else by its clock time. */
export function isLong(task) {
  if (task.wallMs > BLOCKED_TASK_MS) return true;
  return task.cpuMs === null ? task.wallMs > WALL_ONLY_LONG_TASK_MS : task.cpuMs > LONG_TASK_MS;
}

/** The long tasks, the longest by the clock (for the record), and which clock judged them. */
export function summarize(tasks) {
  const byWall = tasks.reduce((a, b) => (b.wallMs > a.wallMs ? b : a));
  return { long: tasks.filter(isLong), longestByClock: byWall, count: tasks.length, clock: clockOf(tasks) };
}

/** The same tasks as a platform without thread CPU time would report them (for the self-test). */
export const withoutThreadTime = (tasks) => tasks.map((t) => ({ ...t, cpuMs: null }));

/** The bar a failure message names, for the clock that judged. */
export const barText = (clock) =>
  clock === 'wall clock'
    ? `${WALL_ONLY_LONG_TASK_MS} ms by the clock (this platform's traces carry no thread CPU time)`
    : `${LONG_TASK_MS} ms of CPU (or ${BLOCKED_TASK_MS} ms by the clock; ${WALL_ONLY_LONG_TASK_MS} ms where a task has no CPU time)`;

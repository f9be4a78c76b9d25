// 2. Student vs teacher, end to end, same runtime, same page: one student image (1 UNet call) vs
//    the teacher's best-quality sampling (25 DDIM steps, guidance 5: training/MODEL_CARD.md, the
//    manifest's quality.teacher.setting), alternating, a new prompt for every call so both pay the
//    text encoder. UI-thread wall time from the call to the painted canvas.
import { promptFor, timedCall } from '../lib/browser.mjs';
import { alternate, pairRatios, summarize } from '../lib/stats.mjs';

export const TEACHER = { steps: 25, guidance: 5 };

export async function run({ page, reps, log }) {
  // One teacher call first: it creates the teacher's session (a one-time cost, not sampling).
  await timedCall(page, 'teacher', { prompt: 'warm up', seed: 1, ...TEACHER }, 'teacher-canvas');
  const r = await alternate(
    {
      student: (i) => timedCall(page, 'student', { prompt: promptFor(i, ' s'), seed: 100 + i, count: 1 }, 'student-canvas'),
      teacher: (i) => timedCall(page, 'teacher', { prompt: promptFor(i, ' t'), seed: 100 + i, ...TEACHER }, 'teacher-canvas'),
    },
    reps,
    (i, out) => log(`  rep ${i + 1}/${reps}: student ${out.student[i].ms.toFixed(0)} ms, teacher ${out.teacher[i].ms.toFixed(0)} ms`),
  );
  const s = r.student.map((x) => x.ms);
  const t = r.teacher.map((x) => x.ms);
  return {
    teacher: TEACHER,
    studentMs: summarize(s),
    teacherMs: summarize(t),
    ratio: summarize(pairRatios(t, s), 1),
    teacherStagesMs: Object.fromEntries(['encode', 'denoise', 'decode'].map((k) => [k, summarize(r.teacher.map((x) => x.stages[k]))])),
  };
}

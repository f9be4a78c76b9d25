// Command-line options of bench/run.mjs (see the header there).
export const SECTIONS = ['latency', 'overhead', 'limit', 'explore', 'teacher', 'threads', 'cold', 'memory', 'size', 'profile', 'webgpu'];

export function parseOptions(argv) {
  const o = {
    reps: 15,
    teacherReps: 5,
    coldReps: 3,
    webgpuReps: 2,
    gens: 1000,
    backends: ['wasm', 'webgpu'],
    only: new Set(SECTIONS),
    gpu: false,
    build: true,
    readme: true,
    name: null,
    tuning: null,
    change: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--reps') o.reps = Number(next());
    else if (a === '--teacher-reps') o.teacherReps = Number(next());
    else if (a === '--cold-reps') o.coldReps = Number(next());
    else if (a === '--webgpu-reps') o.webgpuReps = Number(next());
    else if (a === '--gens') o.gens = Number(next());
    else if (a === '--backends') o.backends = next().split(',');
    else if (a === '--only') o.only = new Set(next().split(','));
    else if (a === '--gpu') o.gpu = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--no-readme') o.readme = false;
    else if (a === '--name') o.name = next();
    else if (a === '--tuning') o.tuning = next();
    else if (a === '--change') o.change = next();
    else if (a === '--render') o.renderOnly = true;
    else throw new Error(`unknown option ${a} (see bench/run.mjs)`);
  }
  // The WebGPU side is SwiftShader on a machine without a GPU, the hardware adapter with --gpu.
  o.sides = [
    ...(o.backends.includes('wasm') ? ['wasm'] : []),
    ...(o.backends.includes('webgpu') && (o.only.has('webgpu') || o.gpu) ? [o.gpu ? 'gpu' : 'swiftshader'] : []),
  ];
  // A run of some sections (--only) is a partial picture: it goes to <name>-partial.json and never
  // replaces the full results the README table is rendered from.
  const partial = SECTIONS.some((sec) => !o.only.has(sec));
  o.name ??= `${o.gpu ? 'gpu' : 'cpu'}${partial ? '-partial' : ''}`;
  if (partial) o.readme = false;
  return o;
}

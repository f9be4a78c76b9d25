// The structure a reader relies on, checked (npm run lint): no import circles in the app, its
// workers, the tests and the benches; and no production module (src/, workers/) importing a test
// or bench module. Prints what breaks the rule and exits non-zero.
import madge from 'madge';

const graph = await madge(['src', 'workers', 'tests', 'bench'], {
  fileExtensions: ['ts', 'mjs', 'js'],
  tsConfig: 'tsconfig.json',
  excludeRegExp: [/node_modules/, /^dist\//],
});
const problems = [];
for (const cycle of graph.circular()) problems.push(`import circle: ${[...cycle, cycle[0]].join(' → ')}`);
for (const [file, deps] of Object.entries(graph.obj())) {
  if (!/^(src|workers)\//.test(file)) continue;
  for (const dep of deps) if (/^(tests|bench)\//.test(dep)) problems.push(`production module ${file} imports ${dep}`);
}
const files = Object.keys(graph.obj()).length;
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log(`imports: ${files} modules, no circles, no production module importing tests/ or bench/`);

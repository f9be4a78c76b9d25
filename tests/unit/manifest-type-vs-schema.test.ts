// The Manifest type (src/shared/types.ts) is the compiler's view of manifest.schema.json, the one
// definition of the manifest's shape. This test reads both, the type through the TypeScript
// compiler, and fails when they drift: a field in one and not the other, a field required in one
// and optional in the other, or a different set of allowed strings.
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import schema from '../../src/shared/manifest.schema.json';

type Schema = {
  $ref?: string;
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  $defs?: Record<string, Schema>;
};
const root = schema as unknown as Schema;

const file = path.resolve(__dirname, '../../src/shared/types.ts');
const program = ts.createProgram([file], { strict: true, noEmit: true });
const checker = program.getTypeChecker();
const source = program.getSourceFile(file)!;
const manifestDecl = source.statements.find(
  (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Manifest',
)!;

/** A schema node with its $ref followed and its allOf parts merged in. */
function resolve(node: Schema, root: Schema): Schema {
  let n = node;
  if (n.$ref) n = { ...root.$defs![n.$ref.replace('#/$defs/', '')], ...n, $ref: undefined };
  for (const part of n.allOf ?? []) {
    const p = resolve(part, root);
    n = { ...n, properties: { ...p.properties, ...n.properties }, required: [...(p.required ?? []), ...(n.required ?? [])] };
  }
  return n;
}

function stringLiterals(type: ts.Type): string[] | null {
  const parts = type.isUnion() ? type.types : [type];
  if (!parts.every((t) => t.isStringLiteral())) return null;
  return parts.map((t) => (t as ts.StringLiteralType).value).sort();
}

/** Every difference between the schema node and the TypeScript type, as "path: what". */
function drift(node: Schema, type: ts.Type, at: string, root: Schema): string[] {
  const n = resolve(node, root);
  const t = checker.getNonNullableType(type);
  const out: string[] = [];
  const allowed = n.enum ?? (typeof n.const === 'string' ? [n.const] : null);
  const literals = stringLiterals(t);
  if (allowed && allowed.every((v) => typeof v === 'string') && literals) {
    if (JSON.stringify([...allowed].sort()) !== JSON.stringify(literals))
      out.push(`${at}: schema allows ${allowed} but the type ${literals}`);
  }
  if (!n.properties) return out;
  const props = new Map(checker.getPropertiesOfType(t).map((p) => [p.name, p]));
  const required = new Set(n.required ?? []);
  for (const key of Object.keys(n.properties)) if (!props.has(key)) out.push(`${at}.${key}: in the schema, not in the type`);
  for (const [key, prop] of props) {
    const child = n.properties[key];
    if (!child) {
      out.push(`${at}.${key}: in the type, not in the schema`);
      continue;
    }
    const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
    if (optional === required.has(key))
      out.push(`${at}.${key}: ${required.has(key) ? 'required in the schema, optional' : 'optional in the schema, required'} in the type`);
    out.push(...drift(child, checker.getTypeOfSymbolAtLocation(prop, manifestDecl), `${at}.${key}`, root));
  }
  return out;
}

describe('Manifest type vs manifest.schema.json', () => {
  const manifestType = checker.getTypeAtLocation(manifestDecl.name);

  it('the type has exactly the schema’s fields, with the same optionality and allowed strings', () => {
    expect(program.getSemanticDiagnostics(source)).toEqual([]);
    expect(drift(root, manifestType, 'manifest', root)).toEqual([]);
  });

  it('sees a drift when there is one (the check can fail)', () => {
    const changed = structuredClone(root);
    const props = changed.properties!;
    changed.required = [...changed.required!, 'teacher'];
    delete props.attribution;
    props.tokenizer.properties!.kind.enum = ['tokenizers-json'];
    expect(drift(changed, manifestType, 'manifest', changed).sort()).toEqual([
      'manifest.attribution: in the type, not in the schema',
      'manifest.teacher: required in the schema, optional in the type',
      'manifest.tokenizer.kind: schema allows tokenizers-json but the type clip-bpe,tokenizers-json',
    ]);
  });
});

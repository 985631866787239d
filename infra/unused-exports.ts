/**
 * Lists the exports of the production tree (shared/, services/, infra/, loadgen/, bench/) that no
 * file outside tests/ imports: candidates to delete or to un-export. Run it by hand
 * (`npx tsx infra/unused-exports.ts`, about 20 s); it is a report, not a gate, so it always exits 0.
 *
 * One line an export: file, name, `value` or `type`, then where it is used: `own file` (only in the
 * file that declares it: un-export it, unless it is a type other exports are declared with) and/or
 * the tests that import it; `nowhere` means dead code.
 */
import path from 'node:path';
import ts from 'typescript';

const ROOT = process.cwd();
const PRODUCTION = ['shared/', 'services/', 'infra/', 'loadgen/', 'bench/'];

const configPath = ts.findConfigFile(ROOT, (f) => ts.sys.fileExists(f), 'tsconfig.json');
if (configPath === undefined) throw new Error('run from the repository root (no tsconfig.json)');
const parsed = ts.parseJsonConfigFileContent(
  ts.readConfigFile(configPath, (f) => ts.sys.readFile(f)).config,
  ts.sys,
  ROOT,
);
const files = parsed.fileNames;
const service = ts.createLanguageService({
  getCompilationSettings: () => parsed.options,
  getScriptFileNames: () => files,
  getScriptVersion: () => '1',
  getScriptSnapshot: (f) => {
    const text = ts.sys.readFile(f);
    return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
  },
  getCurrentDirectory: () => ROOT,
  getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
  fileExists: (f) => ts.sys.fileExists(f),
  readFile: (f) => ts.sys.readFile(f),
});
const program = service.getProgram();
if (program === undefined) throw new Error('no program');
const checker = program.getTypeChecker();
const rel = (f: string): string => path.relative(ROOT, f);

function lineAt(fileName: string, at: number): string {
  const text = program?.getSourceFile(fileName)?.text ?? '';
  const end = text.indexOf('\n', at);
  return text.slice(text.lastIndexOf('\n', at) + 1, end === -1 ? undefined : end);
}

for (const sf of program.getSourceFiles()) {
  const file = rel(sf.fileName);
  if (!PRODUCTION.some((p) => file.startsWith(p))) continue;
  const moduleSymbol = checker.getSymbolAtLocation(sf);
  if (moduleSymbol === undefined) continue;
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const decl = exported.declarations?.[0];
    // A re-export (`export * from`) is judged where its symbol is declared.
    if (decl === undefined || decl.getSourceFile() !== sf) continue;
    const name = ts.getNameOfDeclaration(decl) ?? decl;
    const users = new Set<string>();
    for (const symbol of service.findReferences(sf.fileName, name.getStart(sf)) ?? [])
      for (const ref of symbol.references) {
        if (ref.isDefinition === true || /^\s*export \* from/.test(lineAt(ref.fileName, ref.textSpan.start)))
          continue;
        users.add(rel(ref.fileName) === file ? 'own file' : rel(ref.fileName));
      }
    if ([...users].some((u) => u !== 'own file' && !u.startsWith('tests/'))) continue;
    const kind = (exported.flags & ts.SymbolFlags.Value) !== 0 ? 'value' : 'type';
    console.log(
      [file, exported.name, kind, users.size === 0 ? 'nowhere' : [...users].sort().join(', ')].join('\t'),
    );
  }
}

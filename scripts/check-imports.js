#!/usr/bin/env node
/**
 * Checks that every module of src/ imports only downward: the layers and what each may import are the
 * table below (docs/architecture.md shows the same table; `--table` prints it). Every import counts:
 * `import type`, `export … from`, `import()` and `typeof import()` types, and `declare module`
 * augmentations, since a type-only import ties the layers together as much as any other (a type-only
 * cycle through app.ts is what this check was written against). Tests (`*.test.ts`) are not checked.
 *
 *   node scripts/check-imports.js          check src/ (`npm run check-imports`, and CI)
 *   node scripts/check-imports.js DIR      check another tree laid out like src/ (the checker's test)
 *   node scripts/check-imports.js --table  print the rules as the Markdown table of the architecture page
 *
 * Prints one line per wrong-way import, naming the file, the import and the rule it breaks, and exits 1
 * when there is any.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layers, from the top. A module belongs to the layer whose `modules` name it (a folder ends with
 * `/`; paths are relative to src/); any other file directly in src/ is a leaf module (errors.ts,
 * config.ts, ids.ts, logger.ts, …), which every layer may import and which imports only leaves. A
 * module may import its own layer, the leaves, and the layers in `may`.
 */
const LAYERS = [
  {
    name: 'app',
    modules: ['app.ts'],
    may: ['*'],
    holds: 'the composition root: builds config → database → services → HTTP',
  },
  {
    name: 'cli',
    modules: ['cli/'],
    may: ['app', 'core', 'http', 'response', 'targets', 'notify', 'oauth', 'auth', 'directory', 'audit', 'storage'],
    holds: '`cordon …` commands',
  },
  {
    name: 'console',
    modules: ['console/'],
    may: ['http', 'core', 'response', 'targets', 'notify', 'oauth', 'auth', 'directory', 'audit', 'store', 'storage'],
    holds: 'the web console: server-rendered pages, their session cookie and CSRF tokens, its assets',
  },
  {
    name: 'http',
    modules: ['http/'],
    may: ['core', 'response', 'targets', 'notify', 'oauth', 'auth', 'directory', 'audit', 'store', 'storage'],
    holds: 'fastify: routes, request guards, the error handler',
  },
  {
    name: 'core',
    modules: ['core.ts'],
    may: ['response', 'targets', 'notify', 'oauth', 'auth', 'directory', 'audit', 'store', 'storage'],
    holds: 'the `Core` type: what app.ts builds and hands down',
  },
  {
    name: 'response',
    modules: ['response/'],
    may: ['targets', 'notify', 'oauth', 'auth', 'directory', 'audit', 'store', 'storage'],
    holds: 'service: the response engine, intake, approvals, restores',
  },
  {
    name: 'targets',
    modules: ['targets/'],
    may: ['directory', 'audit', 'store', 'storage'],
    holds: 'service: the systems a containment acts on (connectors), identity sync, the step worker',
  },
  {
    name: 'notify',
    modules: ['notify/'],
    may: ['audit', 'store', 'storage'],
    holds: 'service: webhook subscriptions, Standard Webhooks signing, the delivery worker',
  },
  {
    name: 'oauth',
    modules: ['oauth/'],
    may: ['directory', 'audit', 'store', 'storage'],
    holds: 'service: apps, tokens, keys, the authorization server',
  },
  {
    name: 'auth',
    modules: ['auth/'],
    may: ['directory', 'audit', 'store', 'storage'],
    holds: 'service: sign-in, password change, the signed-in person',
  },
  {
    name: 'directory',
    modules: ['directory/'],
    may: ['audit', 'store', 'storage'],
    holds: 'service: accounts, users, groups, sessions, credentials, suspend and reactivate',
  },
  {
    name: 'audit',
    modules: ['audit/'],
    may: ['store', 'storage'],
    holds: 'service: the audit log, its Merkle tree, checkpoints, proofs',
  },
  { name: 'store', modules: ['store/'], may: ['storage'], holds: 'SQL only: one function per statement' },
  { name: 'storage', modules: ['storage/'], may: [], holds: 'the database handle, schema, migrations' },
];
const LEAF = {
  name: 'leaf',
  may: [],
  holds: 'errors, config, ids, logger, metrics, sealing, periodic, …: imported by every layer',
};

/** Packages only some layers may import. */
const PACKAGES = [
  {
    packages: ['fastify', '@fastify/'],
    only: ['app', 'cli', 'console', 'http'],
    why: 'services take plain types, never a request',
  },
  { packages: ['pg', '@electric-sql/pglite'], only: ['storage'], why: 'the database is opened in storage/ only' },
  { packages: ['kysely'], except: ['cli'], why: 'the CLI needs no SQL' },
];

/** Imports the rules do not hold yet: [importing module, imported module or package], with what removes them. */
const EXCEPTIONS = [
  // none: the CLI's SQL reads went with its direct bodies (each admin command's one body is the HTTP API's)
];

/** The layer of a module (a path relative to the root, with `/`), undefined for one in no layer. */
function layerOf(module) {
  for (const layer of LAYERS) {
    if (layer.modules.some((m) => (m.endsWith('/') ? module.startsWith(m) : module === m))) return layer;
  }
  return module.includes('/') ? undefined : LEAF;
}

function mayImport(from, to) {
  return from === to || to === LEAF || from.may.includes('*') || from.may.includes(to.name);
}

function describeMay(layer) {
  if (layer === LEAF) return 'leaf modules import only leaf modules';
  return `${layer.name} imports only ${[...layer.may, 'the leaf modules'].join(', ')}`;
}

/** Every module specifier a file refers to, with its line and whether it is a type only. */
function importsOf(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found = [];
  const add = (node, literal, typeOnly) => {
    if (literal && ts.isStringLiteralLike(literal)) {
      found.push({
        specifier: literal.text,
        line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
        typeOnly,
      });
    }
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      add(
        node,
        node.moduleSpecifier,
        !!clause &&
          (clause.isTypeOnly ||
            (!clause.name &&
              !!clause.namedBindings &&
              ts.isNamedImports(clause.namedBindings) &&
              clause.namedBindings.elements.length > 0 &&
              clause.namedBindings.elements.every((e) => e.isTypeOnly))),
      );
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, true);
    } else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) {
      add(node, node.name, true); // `declare module 'fastify'` extends fastify's types
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The package a bare specifier names (`@scope/name` or `name`), undefined for `node:` built-ins. */
function packageOf(specifier) {
  if (specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const matchesPackage = (name, pattern) => (pattern.endsWith('/') ? name.startsWith(pattern) : name === pattern);

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')
      ? [full]
      : [];
  });
}

/** Checks the tree under `root`; returns the wrong-way imports and the exceptions no import needs any more. */
export function checkImports(root) {
  const problems = [];
  const used = new Set();
  const excepted = (from, to) => {
    const at = EXCEPTIONS.findIndex(([f, t]) => f === from && t === to);
    if (at >= 0) used.add(at);
    return at >= 0;
  };
  const files = sourceFiles(root).sort();
  let count = 0;
  for (const file of files) {
    const module = path.relative(root, file).split(path.sep).join('/');
    const layer = layerOf(module);
    const where = (line) => `${path.relative(process.cwd(), file)}:${line}`;
    if (!layer) {
      problems.push(
        `${where(1)}: ${module} is in no layer: add its folder to the table in scripts/check-imports.js and ` +
          `docs/architecture.md`,
      );
      continue;
    }
    for (const { specifier, line, typeOnly } of importsOf(file)) {
      count += 1;
      const kind = typeOnly ? 'imports (type only)' : 'imports';
      if (specifier.startsWith('.')) {
        const target = path
          .relative(root, path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')))
          .split(path.sep)
          .join('/');
        if (target.startsWith('../')) continue; // outside the tree (package.json): no layer
        const to = layerOf(target);
        if (!to || mayImport(layer, to) || excepted(module, target)) continue;
        problems.push(
          `${where(line)}: ${module} ${kind} ${target}, of layer ${to.name}: ${describeMay(layer)} ` +
            `(rule "${layer.name}")`,
        );
      } else {
        const name = packageOf(specifier);
        if (name === undefined) continue;
        for (const rule of PACKAGES) {
          if (!rule.packages.some((p) => matchesPackage(name, p))) continue;
          const allowed = rule.only ? rule.only.includes(layer.name) : !rule.except.includes(layer.name);
          if (allowed || excepted(module, name)) continue;
          const who = rule.only
            ? `only ${rule.only.join(', ')} may import ${rule.packages.join(' or ')}`
            : `${rule.except.join(', ')} may not import ${rule.packages.join(' or ')}`;
          problems.push(`${where(line)}: ${module} ${kind} ${name}: ${who}: ${rule.why} (rule "${layer.name}")`);
        }
      }
    }
  }
  const unused = EXCEPTIONS.filter((_, i) => !used.has(i)).map(([f, t]) => `${f} → ${t}`);
  return { files: files.length, imports: count, problems, unused };
}

/** The rules as the Markdown tables docs/architecture.md carries: the layers, then the packages. */
export function rulesTable() {
  const layers = [...LAYERS, LEAF].map((layer) => {
    const where = layer === LEAF ? 'any other `src/*.ts`' : layer.modules.map((m) => `\`src/${m}\``).join(', ');
    const may = layer.may.includes('*') ? 'everything' : [...layer.may, 'leaf'].join(', ');
    return `| ${layer.name} | ${where} | ${layer.holds} | ${may} |`;
  });
  const packages = PACKAGES.map((rule) => {
    const names = rule.packages.map((p) => `\`${p}${p.endsWith('/') ? '*' : ''}\``).join(', ');
    return (
      `| ${names} | ${rule.only ? `only ${rule.only.join(', ')}` : `not ${rule.except.join(', ')}`} ` +
      `| ${rule.why} |`
    );
  });
  return [
    ['| Layer | Where | Holds | May import |', '| --- | --- | --- | --- |', ...layers].join('\n'),
    ['| Package | Imported by | Why |', '| --- | --- | --- |', ...packages].join('\n'),
  ].join('\n\n');
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  if (args[0] === '--table') {
    console.log(rulesTable());
  } else {
    const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
    const root = path.resolve(args[0] ?? src);
    const { files, imports, problems, unused } = checkImports(root);
    for (const problem of problems) console.log(problem);
    if (root === path.resolve(src))
      for (const exception of unused)
        console.log(`note: no import needs the exception ${exception} any more: drop it from scripts/check-imports.js`);
    console.log(
      `check-imports: ${files} modules, ${imports} imports, ${problems.length} wrong-way import` +
        `${problems.length === 1 ? '' : 's'}`,
    );
    process.exitCode = problems.length > 0 ? 1 : 0;
  }
}

// The daemon and loopctl's oclif side, each in one ES module (scripts/build.sh runs this beside
// tsc): dist/bundle/loopd.js, which bin/loopd.js loads, and dist/bundle/loopctl.js, which
// bin/loopctl.js loads when the fast path does not answer (cli/bundle.ts). Node then compiles one
// file instead of resolving, reading and compiling ~300 modules (the daemon) or oclif's ~150
// CommonJS files and our commands (loopctl), which was most of a start's CPU (docs/performance.md,
// docs/architecture.md). Everything else (the fast path, the spawner and output capper processes,
// tests, the client export) keeps using the per-module output of tsc in dist/.
//
// What bundling has to take care of:
// - CommonJS dependencies call require(): the banner gives the ES module one, resolving from
//   dist/bundle/ like the unbundled modules would.
// - pg-native is an optional native add-on that pg requires only when asked for (pg.native, which
//   loopd never uses): left to that require at run time.
// - pino's transports and thread-stream start worker threads from files beside their own modules
//   (__dirname): loopd logs in-process (host/logger.ts) and never starts one.
// - Files shipped beside the code (migrations, the dashboard, the spawner and capper scripts) are
//   found from the package root (core/package-root.ts), the same from the bundle as from dist/.
// - Built-in modules imported with `import { x } from 'node:...'` (ours and the dependencies'):
//   an ES import makes Node build the module's whole export namespace, which reads every lazy
//   export. For node:http those are WebSocket, CloseEvent and MessageEvent, which load undici and
//   the web streams: ~25 ms of CPU on every start for nothing loopd uses; the others add ~8 ms.
//   The plugin below answers such imports with a small module that takes the built-in from
//   process.getBuiltinModule (the object Node has already loaded) and exports its plain values.
//   A lazy export (an accessor) is read only when it is listed in IMPORTED_ACCESSORS: a bundled
//   import of another one fails this build with esbuild's "No matching export ... for import X";
//   add X there (it is then read once at start, as the ES namespace would have). A namespace
//   import (`import * as path from 'node:path'`) sees the same plain values; a static read of a
//   lazy export through one is an esbuild warning, which fails the build below.
import { build } from 'esbuild';
import { isBuiltin } from 'node:module';

const SHIM = 'loopd-builtin';

/** The lazy exports of built-ins that bundled modules import by name. */
const IMPORTED_ACCESSORS = {
  'node:util': ['aborted'],
};

/** @type {import('esbuild').Plugin} */
const builtinsWithoutNamespace = {
  name: 'builtins-without-namespace',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_0-9]+(\/[a-z_0-9]+)?$/ }, (args) => {
      // require() of a built-in already gets the plain object; only ES imports build a namespace.
      if (args.kind !== 'import-statement' || !isBuiltin(args.path)) return undefined;
      const name = args.path.startsWith('node:') ? args.path : `node:${args.path}`;
      return { path: name, namespace: SHIM };
    });
    b.onLoad({ filter: /.*/, namespace: SHIM }, (args) => {
      const builtin = process.getBuiltinModule(args.path);
      const read = IMPORTED_ACCESSORS[args.path] ?? [];
      const plain = Object.entries(Object.getOwnPropertyDescriptors(builtin))
        .filter(([key, d]) => ('value' in d || read.includes(key)) && /^[A-Za-z_$][\w$]*$/.test(key) && key !== 'default')
        .map(([key]) => key);
      const contents = [
        `const m = process.getBuiltinModule(${JSON.stringify(args.path)});`,
        'export default m;',
        plain.length > 0 ? `export const { ${plain.join(', ')} } = m;` : '',
      ].join('\n');
      return { contents, loader: 'js' };
    });
  },
};

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: true,
  // Line mappings for `node --enable-source-maps`; the sources' text would triple the map's size.
  sourcesContent: false,
  external: ['pg-native'],
  banner: { js: "import { createRequire as __loopdRequire } from 'node:module'; const require = __loopdRequire(import.meta.url);" },
  plugins: [builtinsWithoutNamespace],
  logLevel: 'warning',
};

const bundles = [
  { name: 'daemon', entryPoints: ['host/main.ts'], outfile: 'dist/bundle/loopd.js' },
  // oclif's CommonJS has fallbacks that reach __dirname (absent in an ES module) inside a try: its
  // own package.json for a version when require() did not find it, and an engines check it skips
  // on any error. loopctl needs neither (bin/loopctl.js checks the Node version itself).
  { name: 'loopctl', entryPoints: ['cli/bundle.ts'], outfile: 'dist/bundle/loopctl.js' },
];

const results = await Promise.all(bundles.map(({ name, ...opts }) => build({ ...common, ...opts }).then((r) => ({ name, r }))));
// A warning here is a bundle that may misbehave at run time (an import that will always be
// undefined, a require esbuild cannot follow): fail the build rather than ship it.
let failed = false;
for (const { name, r } of results) {
  if (r.warnings.length > 0) {
    process.stderr.write(`bundle: ${r.warnings.length} esbuild warning(s) above in the ${name} bundle; it must build without any\n`);
    failed = true;
  }
}
if (failed) process.exit(1);

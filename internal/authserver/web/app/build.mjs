// build.mjs bundles the inbox page from src/ into ../dist/ (which the Go
// package web embeds) with esbuild: app.js (src/main.js with ably-js from
// node_modules, one minified IIFE, licence comments kept), app.css and
// icon.svg. dist/ is committed so that `go build` needs no npm.
//
//   node build.mjs           write ../dist/
//   node build.mjs --check   fail if ../dist/ differs from a fresh build
import * as esbuild from 'esbuild';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');

async function bundle(entry, out, extra = {}) {
  const res = await esbuild.build({
    entryPoints: [join(here, 'src', entry)],
    outfile: join(dist, out),
    bundle: true,
    minify: true,
    write: false,
    charset: 'utf8',
    legalComments: 'eof',
    logLevel: 'warning',
    ...extra,
  });
  if (res.outputFiles.length !== 1) throw new Error(`${entry}: ${res.outputFiles.length} outputs, want 1`);
  return res.outputFiles[0].contents;
}

async function outputs() {
  return new Map([
    ['app.js', await bundle('main.js', 'app.js', { format: 'iife', platform: 'browser', target: ['es2020', 'chrome90', 'firefox90', 'safari15'] })],
    ['app.css', await bundle('app.css', 'app.css', { target: ['chrome90', 'firefox90', 'safari15'] })],
    ['icon.svg', await readFile(join(here, 'src', 'icon.svg'))],
  ]);
}

const want = await outputs();
if (process.argv.includes('--check')) {
  const stale = [];
  const have = new Set((await readdir(dist)).filter((n) => !n.startsWith('.')));
  for (const [name, body] of want) {
    let old = null;
    try {
      old = await readFile(join(dist, name));
    } catch {
      // missing: stale
    }
    if (!old || Buffer.compare(old, Buffer.from(body)) !== 0) stale.push(name);
    have.delete(name);
  }
  stale.push(...[...have].map((n) => `${n} (not built from src/)`));
  if (stale.length) {
    console.error(`internal/authserver/web/dist is stale: ${stale.join(', ')}; run \`make web\` and commit dist/`);
    process.exit(1);
  }
  console.log('internal/authserver/web/dist is up to date');
} else {
  await mkdir(dist, { recursive: true });
  for (const [name, body] of want) await writeFile(join(dist, name), body);
  console.log(`built ${[...want.keys()].map((n) => `dist/${n}`).join(', ')}`);
}

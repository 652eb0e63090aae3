// Builds the viewer into the Python package (src/silentscope/viewer/static), so users need no Node.
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'src', 'silentscope', 'viewer', 'static');
await mkdir(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  outfile: join(out, 'viewer.js'),
  legalComments: 'eof',
  logLevel: 'warning',
});
await esbuild.build({
  entryPoints: [join(here, 'src', 'style.css')],
  bundle: true,
  minify: true,
  outfile: join(out, 'viewer.css'),
  logLevel: 'warning',
});
await copyFile(join(here, 'index.html'), join(out, 'index.html'));
for (const name of ['viewer.js', 'viewer.css', 'index.html']) {
  const { size } = await stat(join(out, name));
  console.log(`${name.padEnd(12)} ${(size / 1024).toFixed(1)} KiB`);
}

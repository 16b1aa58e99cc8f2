// Builds the web UI into tsdb/ui/static (index.html + assets/). Deterministic: the same sources give
// byte-identical files (content-hashed names, no timestamps), so CI can rebuild and compare.
import * as esbuild from 'esbuild';
import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outRoot = join(here, '..', 'tsdb', 'ui', 'static');
const outdir = join(outRoot, 'assets');

rmSync(outRoot, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/main.jsx'],
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: !process.env.UI_NO_MINIFY,
  sourcemap: false,
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  publicPath: '/ui/assets',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

let js = '', css = '';
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  if (info.entryPoint === 'src/main.jsx') {
    js = '/ui/assets/' + relative(outdir, join(here, file));
    if (info.cssBundle) css = '/ui/assets/' + relative(outdir, join(here, info.cssBundle));
  }
}
if (!js) throw new Error('entry chunk not found in metafile');

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tsdb</title>
<link rel="icon" href="data:,">
${css ? `<link rel="stylesheet" href="${css}">\n` : ''}<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
writeFileSync(join(outRoot, 'index.html'), html);

const sizes = Object.entries(result.metafile.outputs)
  .map(([f, i]) => `${relative(outRoot, join(here, f))} ${(i.bytes / 1024).toFixed(1)} KB`);
console.log(sizes.join('\n'));

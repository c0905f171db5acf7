// Bundles the console's front-end into src/breeze/web/static/dist (not committed).
// main.js/main.css load on every page; each src/islands/<name>.js becomes
// dist/islands/<name>.js, loaded by main.js only where a page has data-island="<name>".
import { build } from "esbuild";
import { readdirSync, rmSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "src", "breeze", "web", "static", "dist");
const islands = readdirSync(join(here, "src", "islands"))
  .filter((f) => f.endsWith(".js"))
  .map((f) => join(here, "src", "islands", f));

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  sourcemap: true,
  target: ["es2020"],
  logLevel: "warning",
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".svg": "file" },
};

await build({ ...common, entryPoints: { main: join(here, "src", "main.js") }, outdir, format: "esm" });
if (islands.length) {
  await build({
    ...common,
    entryPoints: islands,
    outdir: join(outdir, "islands"),
    format: "esm",
  });
}
console.log(`built ${1 + islands.length} bundles into ${outdir}`);

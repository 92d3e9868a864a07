// Which files of a built npm package (<out-dir>/<target>) a page loads, and
// when: scripts/check-size holds the first kind to the budget, bench/size.mjs
// reports both.
// - upFront: every .wasm and .js but the lazy ones: the glue, the wasm and
//   wasm-bindgen's snippets, which load before the first call can run.
// - lazy: the files the package's JS names only in a dynamic import(), which
//   load when first needed (the Argon2id module, on the first password). A
//   file whose name appears anywhere else too (a static import in the JS, or
//   in the wasm's import section) counts up front.
// Throws when an import() names a file the package lacks: that call would
// fail for every user.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

export function packageFiles(dir) {
  const files = readdirSync(dir, { recursive: true }).filter((f) => /\.(wasm|js)$/.test(f)).sort();
  const text = Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'latin1')]));
  const imported = new Map();
  for (const file of files.filter((f) => f.endsWith('.js'))) {
    for (const [, specifier] of text[file].matchAll(/\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) {
      const target = posix.join(posix.dirname(file), specifier);
      if (!files.includes(target)) throw new Error(`${dir}/${file} imports ${specifier}, which the package lacks`);
      imported.set(target, (imported.get(target) ?? 0) + 1);
    }
  }
  const named = (name) => files.reduce((n, f) => n + text[f].split(name).length - 1, 0);
  const lazy = files.filter((f) => imported.has(f) && named(posix.basename(f)) === imported.get(f));
  return { upFront: files.filter((f) => !lazy.includes(f)), lazy };
}

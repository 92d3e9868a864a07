# Sourced by the other scripts: reads wasm-pack.toml into shell variables.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$(python3 - "$ROOT/wasm-pack.toml" <<'PY'
import sys, tomllib, shlex
cfg = tomllib.load(open(sys.argv[1], "rb"))
pkg, tools = cfg["package"], cfg["tools"]
out = {
    "NPM_NAME": pkg["npm-name"], "PKG_OUT_DIR": pkg["out-dir"],
    "PKG_TARGETS": " ".join(pkg["targets"]),
    "WASM_BINDGEN_VERSION": tools["wasm-bindgen-cli"], "WASM_PACK_VERSION": tools["wasm-pack"],
    "WORKER_BUILD_VERSION": tools["worker-build"], "WRANGLER_VERSION": tools["wrangler"],
    "BINARYEN_VERSION": tools["binaryen"], "PACKAGE_TOOLCHAIN": tools["package-toolchain"],
    "SIZE_BUDGET_GZIP": str(cfg["budget"]["package-gzip"]),
}
for k, v in out.items():
    print(f"{k}={shlex.quote(v)}")
PY
)"
# The npm package's compiler, for scripts/build and the bench's versions table.
export PACKAGE_TOOLCHAIN
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
# worker-build ignores PATH and would try GitHub without these.
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

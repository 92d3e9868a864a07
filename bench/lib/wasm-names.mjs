// Reads a wasm binary's function bodies and its `name` section, so a build
// that kept its names can be broken down by the crate each function came from.
const td = new TextDecoder();

function reader(bytes, at = 0) {
  return {
    at,
    u8() { return bytes[this.at++]; },
    u32() {
      let result = 0, shift = 0, byte;
      do { byte = bytes[this.at++]; result |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
      return result >>> 0;
    },
    name() { const len = this.u32(); const s = td.decode(bytes.subarray(this.at, this.at + len)); this.at += len; return s; },
  };
}

/** {functions: [{index, name, size}], dataBytes, sections: {id|name: size}} */
export function parseWasm(bytes) {
  const r = reader(bytes, 8);
  let importedFunctions = 0;
  const bodies = [];
  const names = new Map();
  const sections = {};
  let dataBytes = 0;
  while (r.at < bytes.length) {
    const id = r.u8();
    const size = r.u32();
    const start = r.at, end = start + size;
    if (id === 2) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        r.name(); r.name();
        const kind = r.u8();
        if (kind === 0) { r.u32(); importedFunctions++; }
        else if (kind === 1) { r.u8(); const flags = r.u8(); r.u32(); if (flags & 1) r.u32(); }
        else if (kind === 2) { const flags = r.u8(); r.u32(); if (flags & 1) r.u32(); }
        else if (kind === 3) { r.u8(); r.u8(); }
        else if (kind === 4) { r.u8(); r.u32(); }
      }
    } else if (id === 10) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const len = r.u32();
        bodies.push(len);
        r.at += len;
      }
    } else if (id === 11) {
      dataBytes = size;
    } else if (id === 0) {
      const name = r.name();
      sections[`custom:${name}`] = size;
      if (name === 'name') {
        while (r.at < end) {
          const sub = r.u8();
          const subSize = r.u32();
          const subEnd = r.at + subSize;
          if (sub === 1) {
            const count = r.u32();
            for (let i = 0; i < count; i++) { const index = r.u32(); names.set(index, r.name()); }
          }
          r.at = subEnd;
        }
      }
    }
    if (id !== 0) sections[id] = (sections[id] || 0) + size;
    r.at = end;
  }
  const functions = bodies.map((size, i) => {
    const index = importedFunctions + i;
    return { index, name: names.get(index) ?? `func${index}`, size };
  });
  return { functions, dataBytes, sections };
}

// The crate a (mangled) Rust symbol belongs to: the first crate named in it.
// For a generic that is the crate defining it (`core` for `Iterator::fold`
// monomorphised anywhere), which is how twiggy and cargo-bloat count too.
export function crateOf(name) {
  // An exported `async fn`'s whole body is inlined into the closure that
  // wasm-bindgen's future_to_promise drives: the caller's code, not js-sys'.
  if (/^js_sys(\[[0-9a-f]+\])?::futures::future_to_promise::\{\{closure\}\}/.test(name)) return '(async fn bodies, inlined)';
  if (name.startsWith('_R')) {
    // v0 mangling: a crate root is `C` [`s` disambiguator `_`] <len><ident>.
    const m = /C(?:s[0-9A-Za-z]*_)?(\d+)([A-Za-z_])/.exec(name);
    if (m) {
      const at = m.index + m[0].length - 1;
      return name.slice(at, at + Number(m[1]));
    }
  }
  if (name.startsWith('_ZN')) {
    const decoded = [];
    let at = 3;
    while (at < name.length && /\d/.test(name[at])) {
      const len = /^\d+/.exec(name.slice(at))[0];
      at += len.length;
      decoded.push(name.slice(at, at + Number(len)));
      at += Number(len);
    }
    const path = decoded.join('::').replace(/\$LT\$/g, '<').replace(/\$GT\$/g, '>').replace(/\$u20\$/g, ' ')
      .replace(/\$RF\$/g, '&').replace(/\$C\$/g, ',').replace(/\$u5b\$/g, '[').replace(/\.\./g, '::');
    const m = /([A-Za-z_][A-Za-z0-9_]*)::/.exec(path.replace(/^_</, '<').replace(/<[A-Z]\w* as /, '<'));
    if (m) return m[1];
  }
  // Demangled by wasm-bindgen: `core[c5930c85a12de822]::fmt::write`,
  // `<u16 as aes::…>::…`, `<&T as core::fmt::Display>::fmt`.
  const cleaned = name.replace(/\[[0-9a-f]{8,}\]/g, '');
  const self = /^<*[&\[]*(?:mut |dyn )?([A-Za-z_][A-Za-z0-9_]*)(::)?/.exec(cleaned);
  if (self && self[2]) return self[1];
  const generic = self && /^([A-Z]|u\d+|i\d+|usize|isize|str|bool|char|f32|f64)$/.test(self[1]);
  const asTrait = / as ([A-Za-z_][A-Za-z0-9_]*)::/.exec(cleaned);
  if ((generic || /^<&?\(\)/.test(cleaned)) && asTrait) return asTrait[1];
  if (/externref shim|^closure|wasm-bindgen/.test(name)) return 'wasm_bindgen';
  if (/^(__wbg|__wbindgen|__externref|wasm_bindgen)/.test(name)) return 'wasm_bindgen';
  if (/^(memcpy|memset|memmove|memcmp|bcmp|__rust|__rdl|__rg|rust_|dlmalloc|__multi|__udiv|__ashl|__lshr|__lt|__gt)/.test(name)) return 'compiler_builtins';
  return `(other: ${name.slice(0, 40)})`;
}

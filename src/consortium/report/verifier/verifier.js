// consortium offline evidence verifier: a second implementation, written from docs/protocol.md
// (§1 canonical encoding, §2 ledger objects, §5.2 state proofs, §10.3 genesis, §11 proof bundle,
// §11.4 verification algorithm, §11.5 Ed25519 rules). No network: WebCrypto for Ed25519, a local
// incremental SHA-256 for files of any size. Exposes window.ConsortiumVerifier for the page and tests.
"use strict";
(function (global) {
  // ---------------------------------------------------------------- bytes
  const te = new TextEncoder();
  const td = new TextDecoder("utf-8", {fatal: true});
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const hx = (b) => "0x" + hex(b);
  function concat(...parts) {
    let n = 0; for (const p of parts) n += p.length;
    const out = new Uint8Array(n); let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  function eq(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  const isBytes = (v) => v instanceof Uint8Array;

  class NotVerified extends Error { constructor(code, message) { super(message); this.code = code; } }
  class CannotVerify extends Error {}  // the page could not do its job: bad genesis, newer format (exit 2 in the CLI)
  const malformed = (m) => new NotVerified("malformed-proof", m);

  // ---------------------------------------------------------------- SHA-256 (FIPS 180-4), incremental
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  class Sha256 {
    constructor() {
      this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
      this.buf = new Uint8Array(64); this.fill = 0; this.len = 0; this.w = new Uint32Array(64);
    }
    block(b, o) {
      const w = this.w, h = this.h;
      for (let i = 0; i < 16; i++) w[i] = (b[o + 4 * i] << 24) | (b[o + 4 * i + 1] << 16) | (b[o + 4 * i + 2] << 8) | b[o + 4 * i + 3];
      for (let i = 16; i < 64; i++) {
        const a = w[i - 15], c = w[i - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((c >>> 17) | (c << 15)) ^ ((c >>> 19) | (c << 13)) ^ (c >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let A = h[0], B = h[1], C = h[2], D = h[3], E = h[4], F = h[5], G = h[6], H = h[7];
      for (let i = 0; i < 64; i++) {
        const S1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        const t1 = (H + S1 + ((E & F) ^ (~E & G)) + K[i] + w[i]) | 0;
        const S0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        const t2 = (S0 + ((A & B) ^ (A & C) ^ (B & C))) | 0;
        H = G; G = F; F = E; E = (D + t1) | 0; D = C; C = B; B = A; A = (t1 + t2) | 0;
      }
      h[0] += A; h[1] += B; h[2] += C; h[3] += D; h[4] += E; h[5] += F; h[6] += G; h[7] += H;
    }
    update(data) {
      let i = 0; this.len += data.length;
      if (this.fill) {
        const take = Math.min(64 - this.fill, data.length);
        this.buf.set(data.subarray(0, take), this.fill); this.fill += take; i = take;
        if (this.fill < 64) return this;
        this.block(this.buf, 0); this.fill = 0;
      }
      for (; i + 64 <= data.length; i += 64) this.block(data, i);
      if (i < data.length) { this.buf.set(data.subarray(i), 0); this.fill = data.length - i; }
      return this;
    }
    digest() {
      const bits = this.len * 8;
      const pad = new Uint8Array(((this.fill < 56) ? 56 : 120) - this.fill + 8);
      pad[0] = 0x80;
      const v = new DataView(pad.buffer);
      v.setUint32(pad.length - 8, Math.floor(bits / 0x100000000)); v.setUint32(pad.length - 4, bits >>> 0);
      this.update(pad);
      const out = new Uint8Array(32);
      for (let i = 0; i < 8; i++) new DataView(out.buffer).setUint32(4 * i, this.h[i]);
      return out;
    }
  }
  const H = (b) => new Sha256().update(b).digest();

  // ---------------------------------------------------------------- canonical MessagePack (§1)
  // Values: null, booleans, integers (Number when safe, else BigInt), strings, Uint8Array, Array, Map (text keys).
  function decode(bytes, what) {
    let pos = 0;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const need = (n) => { if (pos + n > bytes.length) throw malformed(`${what}: truncated`); };
    const int = (v) => (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) ? Number(v) : v;
    function item(depth) {
      if (depth > 32) throw malformed(`${what}: nested deeper than 32`);
      need(1); const t = bytes[pos++];
      const n8 = () => { need(1); return bytes[pos++]; };
      const n16 = () => { need(2); const v = dv.getUint16(pos); pos += 2; return v; };
      const n32 = () => { need(4); const v = dv.getUint32(pos); pos += 4; return v; };
      const str = (n) => { need(n); const s = bytes.subarray(pos, pos + n); pos += n;
        try { return td.decode(s); } catch (e) { throw malformed(`${what}: text that is not UTF-8`); } };
      const bin = (n) => { need(n); const s = bytes.slice(pos, pos + n); pos += n; return s; };
      const arr = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(item(depth + 1)); return a; };
      const map = (n) => { const m = new Map(); for (let i = 0; i < n; i++) { const k = item(depth + 1);
        if (typeof k !== "string") throw malformed(`${what}: a map key that is not text`);
        if (m.has(k)) throw malformed(`${what}: duplicate map key`); m.set(k, item(depth + 1)); } return m; };
      if (t <= 0x7f) return t;
      if (t >= 0xe0) return t - 256;
      if (t >= 0xa0 && t <= 0xbf) return str(t & 0x1f);
      if (t >= 0x90 && t <= 0x9f) return arr(t & 0x0f);
      if (t >= 0x80 && t <= 0x8f) return map(t & 0x0f);
      switch (t) {
        case 0xc0: return null; case 0xc2: return false; case 0xc3: return true;
        case 0xcc: return n8(); case 0xcd: return n16(); case 0xce: return n32();
        case 0xcf: { need(8); const v = dv.getBigUint64(pos); pos += 8; return int(v); }
        case 0xd0: { need(1); const v = dv.getInt8(pos); pos += 1; return v; }
        case 0xd1: { need(2); const v = dv.getInt16(pos); pos += 2; return v; }
        case 0xd2: { need(4); const v = dv.getInt32(pos); pos += 4; return v; }
        case 0xd3: { need(8); const v = dv.getBigInt64(pos); pos += 8; return int(v); }
        case 0xd9: return str(n8()); case 0xda: return str(n16()); case 0xdb: return str(n32());
        case 0xc4: return bin(n8()); case 0xc5: return bin(n16()); case 0xc6: return bin(n32());
        case 0xdc: return arr(n16()); case 0xdd: return arr(n32());
        case 0xde: return map(n16()); case 0xdf: return map(n32());
        default: throw malformed(`${what}: byte 0x${t.toString(16)} is not canonical MessagePack (floats, extensions and 0xc1 are refused)`);
      }
    }
    const v = item(0);
    if (pos !== bytes.length) throw malformed(`${what}: trailing bytes`);
    return v;
  }
  function encode(value) {
    const out = [];
    const push = (...b) => { for (const x of b) out.push(x); };
    const be = (v, n) => { for (let i = n - 1; i >= 0; i--) out.push(Number((BigInt(v) >> BigInt(8 * i)) & 0xffn)); };
    function len(n, small, smallMax, codes) {
      if (n <= smallMax && small !== null) push(small | n);
      else if (codes[0] !== null && n <= 0xff) { push(codes[0]); be(n, 1); }
      else if (n <= 0xffff) { push(codes[1]); be(n, 2); } else { push(codes[2]); be(n, 4); }
    }
    function item(v) {
      if (v === null) push(0xc0);
      else if (v === true) push(0xc3);
      else if (v === false) push(0xc2);
      else if (typeof v === "number" || typeof v === "bigint") {
        const n = BigInt(v);
        if (n >= 0n) {
          if (n <= 0x7fn) push(Number(n)); else if (n <= 0xffn) { push(0xcc); be(n, 1); }
          else if (n <= 0xffffn) { push(0xcd); be(n, 2); } else if (n <= 0xffffffffn) { push(0xce); be(n, 4); }
          else if (n < (1n << 64n)) { push(0xcf); be(n, 8); } else throw new Error("integer out of range");
        } else {
          if (n >= -32n) push(Number(n + 256n)); else if (n >= -128n) { push(0xd0); be(n & 0xffn, 1); }
          else if (n >= -32768n) { push(0xd1); be(n & 0xffffn, 2); } else if (n >= -(1n << 31n)) { push(0xd2); be(n & 0xffffffffn, 4); }
          else if (n >= -(1n << 63n)) { push(0xd3); be(n & 0xffffffffffffffffn, 8); } else throw new Error("integer out of range");
        }
      } else if (typeof v === "string") { const b = te.encode(v); len(b.length, 0xa0, 31, [0xd9, 0xda, 0xdb]); for (const x of b) out.push(x); }
      else if (isBytes(v)) { len(v.length, null, -1, [0xc4, 0xc5, 0xc6]); for (const x of v) out.push(x); }
      else if (Array.isArray(v)) { len(v.length, 0x90, 15, [null, 0xdc, 0xdd]); v.forEach(item); }
      else if (v instanceof Map) {
        const keys = Array.from(v.keys()).map((k) => [te.encode(k), k]);
        keys.sort((a, b) => { const n = Math.min(a[0].length, b[0].length);
          for (let i = 0; i < n; i++) if (a[0][i] !== b[0][i]) return a[0][i] - b[0][i]; return a[0].length - b[0].length; });
        len(keys.length, 0x80, 15, [null, 0xde, 0xdf]);
        for (const [, k] of keys) { item(k); item(v.get(k)); }
      } else throw new Error("not a canonical value");
    }
    item(value);
    return Uint8Array.from(out);
  }
  function canonical(bytes, what) {
    const v = decode(bytes, what);
    if (!eq(encode(v), bytes)) throw malformed(`${what}: not in its canonical encoding`);
    return v;
  }

  // ---------------------------------------------------------------- ledger objects (§2)
  const isInt = (v) => (typeof v === "number" && Number.isInteger(v) && v >= 0) || (typeof v === "bigint" && v >= 0n);
  const isText = (v) => typeof v === "string";
  const bytesOf = (v, n) => isBytes(v) && (n === undefined || v.length === n);
  function shape(ok, what) { if (!ok) throw malformed(what); }
  function tx(bytes) {
    const v = canonical(bytes, "transaction");
    shape(Array.isArray(v) && v.length === 10 && v[0] === 1 && isText(v[1]) && isText(v[2]) && isInt(v[3]) && isInt(v[4])
      && bytesOf(v[5], 32) && (bytesOf(v[6], 20) || bytesOf(v[6], 0)) && isText(v[7]) && Array.isArray(v[8]) && bytesOf(v[9], 64),
      "a transaction does not have the shape of docs/protocol.md §2.1");
    return {chain: v[1], group: v[2], sender: v[5], to: v[6], method: v[7], args: v[8], signature: v[9], bytes,
      hash: H(encode(v.slice(0, 9)))};
  }
  function header(bytes) {
    const v = canonical(bytes, "block header");
    shape(Array.isArray(v) && v.length === 14 && v[0] === 2 && isText(v[1]) && isText(v[2]) && isInt(v[3]) && bytesOf(v[4], 32)
      && isInt(v[5]) && bytesOf(v[6], 32) && bytesOf(v[7], 32) && bytesOf(v[8], 32) && isBytes(v[9]) && isInt(v[10])
      && Array.isArray(v[11]) && v[11].every((s) => isBytes(s)) && Array.isArray(v[12]) && isInt(v[13])
      && v[12].every((s) => Array.isArray(s) && s.length === 2 && isInt(s[0]) && bytesOf(s[1], 64)),
      "a block header does not have the shape of docs/protocol.md §2.3");
    return {chain: v[1], group: v[2], number: Number(v[3]), timestamp: Number(v[5]), txRoot: v[6], receiptRoot: v[7],
      stateRoot: v[8], view: v[10], sealers: v[11], signatures: v[12], commitView: v[13], hash: H(encode(v.slice(0, 12))), bytes};
  }
  function receipt(bytes) {
    const v = canonical(bytes, "receipt");
    shape(Array.isArray(v) && v.length === 8 && v[0] === 3 && bytesOf(v[1], 32) && isInt(v[2]) && isInt(v[4]) && Array.isArray(v[5])
      && isText(v[6]) && isBytes(v[7]), "a receipt does not have the shape of docs/protocol.md §2.4");
    return {txHash: v[1], status: v[2], error: v[6], bytes};
  }
  function listProof(bytes) {
    const v = canonical(bytes, "list proof");
    shape(Array.isArray(v) && v.length === 3 && isInt(v[0]) && isInt(v[1]) && Array.isArray(v[2]) && v[2].every((p) => bytesOf(p, 32)),
      "a list proof is [index, size, [32-byte hash, ...]]");
    return {index: v[0], size: v[1], path: v[2]};
  }
  function stateProof(bytes) {
    const v = canonical(bytes, "state proof");
    shape(Array.isArray(v) && v.length === 3 && v[0] === 35 && Array.isArray(v[1])
      && v[1].every((l) => Array.isArray(l) && l.length === 2 && isInt(l[0]) && l[0] <= 0xffff && isBytes(l[1]))
      && (v[2] === null || (Array.isArray(v[2]) && v[2].length === 2 && isBytes(v[2][0]) && isBytes(v[2][1]))),
      "a state proof does not have the shape of docs/protocol.md §5.2");
    return {levels: v[1], leaf: v[2]};
  }
  const addressOf = (publicKey) => H(publicKey).slice(0, 20);

  // RFC 9162 §2.1.3.2 (§2.5): the leaf is authenticated, its position is not relied on.
  function inclusion(root, leaf, proof) {
    if (typeof proof.index !== "number" || typeof proof.size !== "number" || proof.index >= proof.size) return false;
    let fn = proof.index, sn = proof.size - 1, r = H(concat([0], leaf));
    for (const p of proof.path) {
      if (sn === 0) return false;
      if ((fn & 1) === 1 || fn === sn) {
        r = H(concat([1], p, r));
        if ((fn & 1) === 0) { while ((fn & 1) === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else r = H(concat([1], r, p));
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && eq(r, root);
  }

  // §5.2: presence of key -> value against root.
  function stateProofHolds(root, key, value, proof) {
    const kh = H(key), levels = proof.levels, leaf = proof.leaf;
    const nib = (h, d) => (d % 2 === 0 ? h[d >> 1] >> 4 : h[d >> 1] & 0x0f);
    if (levels.length > 64) return false;
    for (const [bm, hs] of levels) { let c = 0; for (let i = 0; i < 16; i++) if (bm & (1 << i)) c++; if (hs.length !== 32 * c) return false; }
    if (leaf !== null) {
      if (leaf[0].length !== 32 || leaf[1].length !== 32) return false;
      for (let d = 0; d < levels.length; d++) if (nib(leaf[0], d) !== nib(kh, d)) return false;
    }
    if (leaf === null || !eq(leaf[0], kh) || !eq(leaf[1], H(value))) return false;
    const zero = new Uint8Array(32);
    let cur = H(concat([0x21], leaf[0], leaf[1]));
    for (let d = levels.length - 1; d >= 0; d--) {
      const [bm, hs] = levels[d], own = nib(kh, d);
      if (bm & (1 << own)) return false;
      if (eq(cur, zero) && bm === 0) return false;
      const children = []; let j = 0;
      for (let i = 0; i < 16; i++) {
        if (i === own) children.push(cur);
        else if (bm & (1 << i)) { children.push(hs.subarray(32 * j, 32 * j + 32)); j++; } else children.push(zero);
      }
      cur = H(concat([0x20], ...children));
    }
    return eq(cur, root);
  }

  // ---------------------------------------------------------------- Ed25519 (§11.5): WebCrypto plus the rules it lacks
  const P = (1n << 255n) - 19n, L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const mod = (a) => ((a % P) + P) % P;
  function pow(b, e) { let r = 1n; b = mod(b); while (e > 0n) { if (e & 1n) r = r * b % P; b = b * b % P; e >>= 1n; } return r; }
  const inv = (a) => pow(a, P - 2n);
  const Dc = mod(-121665n * inv(121666n)), I = pow(2n, (P - 1n) / 4n);
  const le = (b) => { let v = 0n; for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]); return v; };
  function point(b) {  // canonical decoding, or null
    const sign = b[31] >> 7, y = le(b) & ((1n << 255n) - 1n);
    if (y >= P) return null;
    const y2 = y * y % P, x2 = mod((y2 - 1n) * inv(Dc * y2 + 1n));
    let x = pow(x2, (P + 3n) / 8n);
    if (mod(x * x - x2) !== 0n) x = x * I % P;
    if (mod(x * x - x2) !== 0n) return null;
    if (x === 0n && sign === 1) return null;
    if (Number(x & 1n) !== sign) x = P - x;
    return [x, y];
  }
  function smallOrder(pt) {
    let [x, y] = pt;
    for (let i = 0; i < 3; i++) {
      const xy = x * y % P, dxy = Dc * xy % P * xy % P;
      [x, y] = [2n * xy % P * inv(1n + dxy) % P, (y * y + x * x) % P * inv(mod(1n - dxy)) % P];
    }
    return x === 0n && y === 1n;
  }
  async function ed25519(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    if (le(signature.subarray(32)) >= L) return false;
    const A = point(publicKey), R = point(signature.subarray(0, 32));
    if (A === null || smallOrder(A) || R === null || smallOrder(R)) return false;
    try {
      const key = await crypto.subtle.importKey("raw", publicKey, {name: "Ed25519"}, false, ["verify"]);
      return await crypto.subtle.verify({name: "Ed25519"}, key, signature, message);
    } catch (e) { return false; }
  }

  // ---------------------------------------------------------------- genesis (§10.3): a strict TOML subset
  function parseToml(text) {
    const root = {}; let table = root; let lineNo = 0;
    const bad = (m) => new CannotVerify(`the genesis file, line ${lineNo}: ${m}`);
    function value(s) {
      s = s.trim();
      if (s.startsWith('"')) { try { return JSON.parse(s); } catch (e) { throw bad("a string this page cannot read"); } }
      if (s.startsWith("'") && s.endsWith("'") && s.length >= 2) return s.slice(1, -1);
      if (s === "true") return true; if (s === "false") return false;
      if (/^[+-]?[0-9][0-9_]*$/.test(s)) return Number(s.replace(/_/g, ""));
      const split = (inner) => {  // top-level commas only (not inside quotes, arrays or inline tables)
        const out = []; let cur = "", q = null, depth = 0;
        for (const ch of inner) {
          if (q) { cur += ch; if (ch === q) q = null; } else if (ch === '"' || ch === "'") { q = ch; cur += ch; }
          else if (ch === "[" || ch === "{") { depth++; cur += ch; } else if (ch === "]" || ch === "}") { depth--; cur += ch; }
          else if (ch === "," && depth === 0) { if (cur.trim()) out.push(cur); cur = ""; } else cur += ch;
        }
        if (cur.trim()) out.push(cur);
        return out;
      };
      if (s.startsWith("[") && s.endsWith("]")) return split(s.slice(1, -1)).map(value);
      if (s.startsWith("{") && s.endsWith("}")) {  // an inline table
        const t = {};
        for (const part of split(s.slice(1, -1))) {
          const m = /^\s*([A-Za-z0-9_]+)\s*=(.*)$/s.exec(part);
          if (!m || m[1] in t) throw bad("an inline table this page cannot read");
          t[m[1]] = value(m[2]);
        }
        return t;
      }
      throw bad(`a value this page cannot read: ${s.slice(0, 40)}`);
    }
    const stripComment = (s) => { let q = null; for (let i = 0; i < s.length; i++) { const c = s[i];
      if (q) { if (c === "\\" && q === '"') i++; else if (c === q) q = null; } else if (c === '"' || c === "'") q = c; else if (c === "#") return s.slice(0, i); }
      return s; };
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      lineNo = i + 1;
      let line = stripComment(lines[i]).trim();
      if (!line) continue;
      let m;
      if ((m = /^\[\[\s*([A-Za-z0-9_]+)\s*\]\]$/.exec(line))) { (root[m[1]] = root[m[1]] || []).push(table = {}); continue; }
      if ((m = /^\[\s*([A-Za-z0-9_]+)\s*\]$/.exec(line))) { if (root[m[1]]) throw bad(`table [${m[1]}] twice`); table = root[m[1]] = {}; continue; }
      if (!(m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line))) throw bad("not a key = value line");
      let rest = m[2];
      if (rest.trim().startsWith('"""')) {  // a multi-line basic string (PEM certificates); no escapes expected
        let body = rest.trim().slice(3);
        while (!body.includes('"""') && i + 1 < lines.length) { i++; body += "\n" + lines[i]; }
        const end = body.indexOf('"""');
        if (end < 0 || stripComment(body.slice(end + 3)).trim()) throw bad("an unterminated multi-line string");
        if (m[1] in table) throw bad(`key ${m[1]} twice`);
        table[m[1]] = body.slice(0, end).replace(/^\n/, "");
        continue;
      }
      if (rest.trim().startsWith("[")) {  // a multi-line array
        let depth = 0; const count = (s) => { for (const c of stripComment(s)) { if (c === "[") depth++; else if (c === "]") depth--; } };
        count(rest);
        while (depth > 0 && i + 1 < lines.length) { i++; rest += " " + stripComment(lines[i]); count(lines[i]); }
      }
      if (m[1] in table) throw bad(`key ${m[1]} twice`);
      table[m[1]] = value(stripComment(rest));
    }
    return root;
  }
  function genesisFrom(text) {
    const doc = parseToml(text);
    const need = (obj, key, check, what) => {
      if (!obj || !(key in obj) || !check(obj[key])) throw new CannotVerify(`the genesis file: ${what}`); return obj[key]; };
    const id = (s) => typeof s === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(s);
    const int = (lo, hi) => (v) => Number.isSafeInteger(v) && v >= lo && v <= hi;
    const hexb = (n) => (s) => typeof s === "string" && new RegExp(`^0[xX][0-9a-fA-F]{${2 * n}}$`).test(s);
    const known = new Set(["chain", "consensus", "governance", "contracts", "sealer", "committee", "organization"]);
    for (const k of Object.keys(doc)) {
      if (k === "tsa") throw new CannotVerify("this genesis file lists time-stamping authorities ([[tsa]]); this page does not check time anchors yet: use 'consortium evidence verify'");
      if (!known.has(k)) throw new CannotVerify(`the genesis file has an unknown table [${k}]`);
    }
    const c = doc.chain, k = doc.consensus, g = doc.governance;
    const b = (s) => unhex(s);
    const out = {
      chainId: need(c, "chain_id", id, "[chain] chain_id"), groupId: need(c, "group_id", id, "[chain] group_id"),
      suite: need(c, "crypto_suite", (s) => s === "ed25519-sha256", "[chain] crypto_suite must be ed25519-sha256"),
      timestamp: need(c, "timestamp_ms", int(0, Number.MAX_SAFE_INTEGER), "[chain] timestamp_ms"),
      python: c && "python" in c ? need(c, "python", (s) => typeof s === "string", "[chain] python") : "",
      maxTxs: need(k, "max_txs_per_block", int(1, 100000), "[consensus] max_txs_per_block"),
      viewTimeout: need(k, "view_timeout_ms", int(100, 600000), "[consensus] view_timeout_ms"),
      window: need(k, "block_limit_window", int(1, 1000000), "[consensus] block_limit_window"),
      admins: need(g, "administrators", (a) => Array.isArray(a) && a.length >= 1 && a.every(hexb(20)), "[governance] administrators").map(b),
      threshold: need(g, "committee_threshold", int(1, 1e12), "[governance] committee_threshold"),
      builtin: need(doc.contracts, "builtin", (a) => Array.isArray(a) && a.every((s) => typeof s === "string"), "[contracts] builtin"),
      sealers: need(doc, "sealer", (a) => Array.isArray(a) && a.length >= 1 && a.length <= 256, "1-256 [[sealer]] tables")
        .map((s) => b(need(s, "node_id", hexb(32), "[[sealer]] node_id"))),
      committee: need(doc, "committee", (a) => Array.isArray(a) && a.length >= 1 && a.length <= 256, "1-256 [[committee]] tables")
        .map((m) => [b(need(m, "address", hexb(20), "[[committee]] address")), "weight" in m ? need(m, "weight", int(1, 1000000), "[[committee]] weight") : 1]),
    };
    const value = ["consortium-genesis", 1, out.chainId, out.groupId, out.suite, out.timestamp, out.sealers, out.admins,
      out.committee, out.threshold, out.maxTxs, out.viewTimeout, out.window, out.builtin, out.python];
    if (doc.organization !== undefined) {  // §10.3: organizations and each sealer's org, only when listed
      const orgs = need(doc, "organization", (a) => Array.isArray(a) && a.length >= 1, "[[organization]] tables");
      const pemDer = (pem) => {
        const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
        if (!m) throw new CannotVerify("the genesis file: an organization's ca_cert is not a PEM certificate");
        return Uint8Array.from(atob(m[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
      };
      value.push(orgs.map((o) => [need(o, "name", id, "[[organization]] name"), pemDer(need(o, "ca_cert", (x) => typeof x === "string", "[[organization]] ca_cert"))]));
      value.push(doc.sealer.map((s) => need(s, "org", id, "[[sealer]] org (required when organizations are listed)")));
    }
    out.hash = H(encode(value));
    return out;
  }
  function unhex(s, size, what) {
    if (typeof s !== "string" || !/^0[xX]([0-9a-fA-F]{2})*$/.test(s)) throw malformed(`${what || "a value"} is not 0x-hex`);
    const b = new Uint8Array((s.length - 2) / 2);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 + 2 * i, 2), 16);
    if (size !== undefined && b.length !== size) throw malformed(`${what} must be ${size} bytes`);
    return b;
  }

  // ---------------------------------------------------------------- the bundle (§11, §11.2)
  const KiB = 1024, MiB = 1024 * KiB;
  function keysExactly(obj, keys, what) {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw malformed(`${what} must be a JSON object`);
    const have = Object.keys(obj);
    const missing = keys.filter((k) => !have.includes(k)), extra = have.filter((k) => !keys.includes(k));
    if (missing.length) throw malformed(`${what} lacks ${missing.join(", ")}`);
    if (extra.length) throw malformed(`${what} has members this verifier does not know: ${extra.join(", ")}`);
  }
  function field(obj, key, max, what) {
    const b = unhex(obj[key], undefined, what);
    if (b.length > max) throw malformed(`${what} exceeds ${max} bytes`);
    return b;
  }
  function parseBundle(text) {
    if (text.length > 16 * MiB) throw malformed("the proof file exceeds 16 MiB");
    let doc;
    try { doc = JSON.parse(text); } catch (e) { throw malformed("the proof file is not valid JSON (truncated, or not a proof bundle)"); }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc) || doc.type !== "consortium-evidence-proof")
      throw malformed('the file is not a proof bundle (its "type" is not "consortium-evidence-proof")');
    if (!Number.isInteger(doc.version) || doc.version < 1) throw malformed("the proof's version is not a positive integer");
    if (doc.version > 2) throw new CannotVerify(`the proof is format version ${doc.version}; this page reads versions 1 and 2: get a newer verifier page`);
    if ("anchor" in doc) throw new CannotVerify("the proof carries a time anchor (RFC 3161); this page does not check time anchors yet: use 'consortium evidence verify'");
    const common = ["type", "version", "chainId", "groupId", "genesisHash", "headers", "notarization", "cosignatures", "record", "sealerChanges"];
    keysExactly(doc, common.concat(doc.version === 1 ? ["evidenceHash"] : ["evidence"]), "the proof bundle");
    let opening;
    if (doc.version === 1) opening = {fileHash: unhex(doc.evidenceHash, 32, "evidenceHash"), salt: null};
    else {
      keysExactly(doc.evidence, ["fileHash", "salt"], "evidence");
      opening = {fileHash: unhex(doc.evidence.fileHash, 32, "evidence.fileHash"),
        salt: doc.evidence.salt === null ? null : unhex(doc.evidence.salt, 32, "evidence.salt")};
    }
    for (const k of ["chainId", "groupId"]) if (typeof doc[k] !== "string" || doc[k].length < 1 || doc[k].length > 64) throw malformed(`${k} must be text of 1-64 characters`);
    if (!Array.isArray(doc.headers) || doc.headers.length < 1 || doc.headers.length > 18) throw malformed("headers must list 1-18 block headers");
    const headers = doc.headers.map((h, i) => header(field(doc.headers, i, 64 * KiB, `headers[${i}]`)));
    for (let i = 1; i < headers.length; i++) if (headers[i].number <= headers[i - 1].number) throw malformed("headers must have strictly ascending numbers");
    const used = new Set();
    const index = (i, what) => { if (!Number.isInteger(i) || i < 0 || i >= headers.length) throw malformed(`${what}: header index out of range`); used.add(i); return i; };
    const inclusionObj = (o, what) => {
      keysExactly(o, ["header", "transaction", "transactionProof", "receipt", "receiptProof"], what);
      return {header: index(o.header, what), tx: tx(field(o, "transaction", MiB, `${what}.transaction`)),
        txProof: listProof(field(o, "transactionProof", 64 * KiB, `${what}.transactionProof`)),
        receipt: receipt(field(o, "receipt", 256 * KiB, `${what}.receipt`)),
        receiptProof: listProof(field(o, "receiptProof", 64 * KiB, `${what}.receiptProof`))};
    };
    const notarization = inclusionObj(doc.notarization, "notarization");
    if (!Array.isArray(doc.cosignatures) || doc.cosignatures.length > 16) throw malformed("cosignatures must list 0-16 inclusion objects");
    const cosignatures = doc.cosignatures.map((c, i) => inclusionObj(c, `cosignatures[${i}]`));
    keysExactly(doc.record, ["header", "value", "proof"], "record");
    const record = {header: index(doc.record.header, "record"), value: field(doc.record, "value", 64 * KiB, "record.value"),
      proof: stateProof(field(doc.record, "proof", 64 * KiB, "record.proof"))};
    canonical(record.value, "record.value");
    if (!Array.isArray(doc.sealerChanges) || doc.sealerChanges.length > 1024) throw malformed("sealerChanges must list 0-1024 objects");
    const sealerChanges = doc.sealerChanges.map((c, i) => { keysExactly(c, ["header", "value", "proof"], `sealerChanges[${i}]`);
      return {header: header(field(c, "header", 64 * KiB, `sealerChanges[${i}].header`)), value: field(c, "value", 64 * KiB, `sealerChanges[${i}].value`),
        proof: stateProof(field(c, "proof", 64 * KiB, `sealerChanges[${i}].proof`))}; });
    if (used.size !== headers.length) throw malformed("a header in the proof is not used by the notarization, a co-signature or the record");
    return {version: doc.version, chainId: doc.chainId, groupId: doc.groupId, genesisHash: unhex(doc.genesisHash, 32, "genesisHash"),
      opening, headers, notarization, cosignatures, record, sealerChanges};
  }

  // ---------------------------------------------------------------- verification (§11.4)
  const EVIDENCE = unhex("0x3addfb141cd7c9c4c6543a82191a3707ac29c7a0"), EVIDENCE_ALIAS = unhex("0xa0b891485a238cad497c0e90b8308d4c0f0f1aa9");
  const isTarget = (to) => eq(to, EVIDENCE) || eq(to, EVIDENCE_ALIAS);
  const quorum = (n) => n - Math.floor((n - 1) / 3);
  const TAG = te.encode("consortium/evidence-commitment/v1");
  const ascii = (s) => te.encode(s);
  const iso = (ms) => new Date(Number(ms)).toISOString();
  const METADATA = {case_id: 64, file_name: 255, media_type: 127, note: 1024};

  function checkCall(args) {
    const meta = args[1], signers = args[2];
    if (!(meta instanceof Map)) throw new NotVerified("invalid-call", "the notarization's metadata is not a map");
    for (const [k, v] of meta) {
      if (k === "size") { if (!isInt(v)) throw new NotVerified("invalid-call", "metadata size must be an integer >= 0"); }
      else if (k in METADATA) { if (!isText(v) || Array.from(v).length > METADATA[k]) throw new NotVerified("invalid-call", `metadata ${k} must be text of at most ${METADATA[k]} characters`); }
      else throw new NotVerified("invalid-call", `metadata has a field the contract does not allow: ${k}`);
    }
    if (!Array.isArray(signers) || signers.length > 16 || !signers.every((s) => bytesOf(s, 20))
        || new Set(signers.map(hex)).size !== signers.length) throw new NotVerified("invalid-call", "signers must be 0-16 distinct 20-byte addresses");
  }
  function receiptOk(inc, what) {
    if (!eq(inc.receipt.txHash, inc.tx.hash)) throw new NotVerified("proof-altered", `the ${what} receipt is for another transaction`);
    if (inc.receipt.status !== 0) throw new NotVerified("transaction-failed", `the ${what} transaction failed on chain (status ${inc.receipt.status}: ${inc.receipt.error.slice(0, 200)}); it recorded nothing`);
  }
  async function certificate(h) {
    const n = h.sealers.length, q = quorum(n);
    const distinct = new Set(h.sealers.map(hex)).size === n;
    const payload = encode([5, h.hash, h.commitView]);  // §2.3: the seal signs the encoding itself (a transaction signs its hash)
    const good = new Set(); let clean = n >= 1 && distinct && h.signatures.length >= q;
    const seen = new Set();
    for (const [idx, sig] of h.signatures) {
      const i = Number(idx);
      if (!(i < n) || seen.has(i)) { clean = false; continue; }
      seen.add(i);
      if (await ed25519(h.sealers[i], payload, sig)) good.add(i); else clean = false;
    }
    if (n < 1 || good.size < q) throw new NotVerified("too-few-signatures", `too few valid signatures on block ${h.number}: ${good.size} of its ${n} sealers' commit seals verify, ${q} are needed`);
    if (!clean) throw new NotVerified("invalid-signature", `block ${h.number} carries an invalid or duplicate commit seal; certificates on chain are clean, so the proof was altered`);
    return good;
  }

  async function verify(genesis, bundle, fileHash) {
    // 1. What the proof is about
    const o = bundle.opening;
    if (!eq(o.fileHash, fileHash)) throw new NotVerified("file-changed", `the file's SHA-256 is ${hx(fileHash)}, but the proof is for ${hx(o.fileHash)}: the file was changed, or it is another file`);
    const key = o.salt === null ? o.fileHash : H(concat(TAG, [0], o.salt, o.fileHash));
    if (!eq(bundle.genesisHash, genesis.hash) || bundle.chainId !== genesis.chainId || bundle.groupId !== genesis.groupId)
      throw new NotVerified("another-chain", `the proof is for chain ${bundle.chainId}/${bundle.groupId} with genesis ${hx(bundle.genesisHash)}; the genesis file describes ${genesis.chainId}/${genesis.groupId} with genesis ${hx(genesis.hash)}`);
    for (const h of bundle.headers.concat(bundle.sealerChanges.map((c) => c.header))) {
      if (h.chain !== genesis.chainId || h.group !== genesis.groupId) throw new NotVerified("another-chain", `block ${h.number} in the proof belongs to chain ${h.chain}/${h.group}`);
      if (h.number === 0) throw new NotVerified("proof-altered", "the proof relies on a \"block 0\": nothing can be proven in the genesis block");
    }
    // 2. What the parties signed
    const N = bundle.notarization.tx, hN = bundle.headers[bundle.notarization.header], hR = bundle.headers[bundle.record.header];
    if (N.chain !== genesis.chainId || N.group !== genesis.groupId) throw new NotVerified("another-chain", "the notarization was signed for another chain");
    if (!isTarget(N.to) || N.method !== "notarize" || N.args.length !== 3 || !bytesOf(N.args[0], 32) || !eq(N.args[0], key))
      throw new NotVerified("not-a-notarization", "the transaction is not notarize(this file's key, metadata, signers) to the evidence contract");
    checkCall(N.args);
    receiptOk(bundle.notarization, "notarization");
    if (hR.number < hN.number) throw new NotVerified("proof-altered", `the record is proven at block ${hR.number}, before its notarization in block ${hN.number}`);
    const signers = N.args[2].map(hex), cosigners = [];
    bundle.cosignatures.forEach((inc, j) => {
      const C = inc.tx, hj = bundle.headers[inc.header];
      if (C.chain !== genesis.chainId || C.group !== genesis.groupId) throw new NotVerified("another-chain", `co-signature ${j} was signed for another chain`);
      if (!isTarget(C.to) || C.method !== "sign" || C.args.length !== 1 || !bytesOf(C.args[0], 32) || !eq(C.args[0], key))
        throw new NotVerified("invalid-call", `co-signature ${j}: the transaction is not sign(this file's key) to the evidence contract`);
      const who = hex(addressOf(C.sender));
      if (!signers.includes(who) || cosigners.some((c) => c.who === who)) throw new NotVerified("invalid-call", `co-signature ${j}: 0x${who} is not a listed co-signer, or signed twice`);
      if (!(hj.number > hN.number)) throw new NotVerified("invalid-call", `co-signature ${j} is not in a block after the notarization's`);
      if (hj.number > hR.number) throw new NotVerified("proof-altered", `co-signature ${j} is in a block after the record's`);
      receiptOk(inc, `co-signature ${j}`);
      cosigners.push({who, block: hj.number, timestamp: hj.timestamp, tx: C.hash});
    });
    // 3. Merkle proofs and the record
    const incs = [["the notarization", bundle.notarization]].concat(bundle.cosignatures.map((c, j) => [`co-signature ${j}`, c]));
    for (const [what, inc] of incs) {
      const h = bundle.headers[inc.header];
      if (!inclusion(h.txRoot, inc.tx.bytes, inc.txProof)) throw new NotVerified("proof-altered", `${what}: the transaction is not proven in block ${h.number}`);
      if (!inclusion(h.receiptRoot, inc.receipt.bytes, inc.receiptProof)) throw new NotVerified("proof-altered", `${what}: the receipt is not proven in block ${h.number}`);
    }
    const recordKey = concat(ascii("cs/"), EVIDENCE, encode(["ev", key]));
    if (!stateProofHolds(hR.stateRoot, recordKey, bundle.record.value, bundle.record.proof))
      throw new NotVerified("proof-altered", `the state proof of the evidence record does not lead to block ${hR.number}'s state root`);
    const expected = new Map([["hash", key], ["submitter", addressOf(N.sender)], ["block", hN.number], ["timestamp", hN.timestamp],
      ["tx", N.hash], ["metadata", N.args[1]], ["signers", N.args[2]],
      ["signatures", cosigners.map((c) => new Map([["signer", unhex("0x" + c.who)], ["block", c.block], ["timestamp", c.timestamp], ["tx", c.tx]]))],
      ["status", cosigners.length === N.args[2].length ? "COMPLETE" : "PENDING"]]);
    if (!eq(encode(expected), bundle.record.value)) {
      const actual = decode(bundle.record.value, "record");
      const sigs = actual instanceof Map ? actual.get("signatures") : null;
      if (!Array.isArray(sigs) || sigs.length !== cosigners.length) throw new NotVerified("proof-altered", "the record's co-signatures do not match the signing transactions in the proof");
      const diff = actual instanceof Map ? Array.from(expected.keys()).filter((k) => !actual.has(k) || !eq(encode(actual.get(k)), encode(expected.get(k)))) : ["everything"];
      throw new NotVerified("contradicts-signed", `the certified record contradicts what the parties signed (${diff.join(", ") || "extra fields"})`);
    }
    // 4. Sealer sets
    let inForce = [{from: 0, set: genesis.sealers}];
    const setAt = (n) => { let s = inForce[0].set; for (const e of inForce) if (e.from <= n) s = e.set; return s; };
    const sameSet = (a, b) => a.length === b.length && a.every((x, i) => eq(x, b[i]));
    let last = -1;
    for (const c of bundle.sealerChanges) {
      const h = c.header;
      if (h.number <= last || !sameSet(h.sealers, setAt(h.number))) throw new NotVerified("sealer-set-mismatch", `sealer-set change at block ${h.number} is not sealed by the set in force there`);
      last = h.number;
      if (!stateProofHolds(h.stateRoot, ascii("gv/sealers"), c.value, c.proof)) throw new NotVerified("proof-altered", `the sealer set proven at block ${h.number} does not lead to its state root`);
      let set;
      try { set = canonical(c.value, "sealer set"); } catch (e) { throw new NotVerified("proof-altered", `the sealer set at block ${h.number} cannot be read`); }
      if (!Array.isArray(set) || set.length < 1 || set.length > 256 || !set.every((s) => bytesOf(s, 32)) || new Set(set.map(hex)).size !== set.length)
        throw new NotVerified("proof-altered", `the sealer set at block ${h.number} is not 1-256 distinct node ids`);
      inForce.push({from: h.number + 1, set});
    }
    for (const h of bundle.headers) if (!sameSet(h.sealers, setAt(h.number)))
      throw new NotVerified("sealer-set-mismatch", `block ${h.number} names a sealer set other than the one in force there per the genesis file and the proof's sealer-set changes`);
    // 5. Signatures, last
    for (const c of bundle.sealerChanges) await certificate(c.header);
    let sealedBy = null;
    for (let i = 0; i < bundle.headers.length; i++) {
      const good = await certificate(bundle.headers[i]);
      if (i === bundle.notarization.header) sealedBy = Array.from(good).sort((a, b) => a - b).map((k) => hx(bundle.headers[i].sealers[k]));
    }
    for (const [what, inc] of incs) if (!(await ed25519(inc.tx.sender, inc.tx.hash, inc.tx.signature)))
      throw new NotVerified("invalid-signature", `the ${what.replace(/^the /, "")} transaction's signature does not verify against its sender's key: the transaction was altered`);
    const meta = {}; for (const [k, v] of N.args[1]) meta[k] = typeof v === "bigint" ? v.toString() : v;
    return {verified: true, hash: hx(fileHash), key: hx(key), mode: o.salt === null ? "public" : "salted",
      block: hN.number, blockHash: hx(hN.hash), timestampMs: hN.timestamp, time: iso(hN.timestamp),
      submitter: hx(addressOf(N.sender)), transaction: hx(N.hash), metadata: meta,
      cosigners: cosigners.map((c) => ({address: "0x" + c.who, block: c.block, time: iso(c.timestamp), transaction: hx(c.tx)})),
      pending: signers.filter((s) => !cosigners.some((c) => c.who === s)).map((s) => "0x" + s),
      status: cosigners.length === N.args[2].length ? "COMPLETE" : "PENDING", recordBlock: hR.number,
      chainId: genesis.chainId, groupId: genesis.groupId, genesisHash: hx(genesis.hash),
      sealers: hN.sealers.length, quorum: quorum(hN.sealers.length), sealedBy};
  }

  async function hashFile(file, onProgress) {
    const h = new Sha256(), CHUNK = 4 * MiB;
    for (let off = 0; off < file.size; off += CHUNK) {
      h.update(new Uint8Array(await file.slice(off, off + CHUNK).arrayBuffer()));
      if (onProgress) onProgress(Math.min(file.size, off + CHUNK), file.size);
    }
    if (onProgress) onProgress(file.size, file.size);
    return h.digest();
  }

  /** Verify: genesis text, proof text, file SHA-256 -> {verified: true, ...} | {verified: false, code, reason} | {error}. */
  async function run(genesisText, proofText, fileHash) {
    let genesis;
    try { genesis = genesisFrom(genesisText); } catch (e) {
      return {verified: null, error: e instanceof CannotVerify || e instanceof NotVerified ? e.message : `the genesis file cannot be read: ${e.message}`};
    }
    try { return await verify(genesis, parseBundle(proofText), fileHash); } catch (e) {
      if (e instanceof NotVerified) return {verified: false, code: e.code, reason: e.message};
      if (e instanceof CannotVerify) return {verified: null, error: e.message};
      return {verified: false, code: "malformed-proof", reason: `the proof cannot be read: ${e.message}`};
    }
  }

  global.ConsortiumVerifier = {run, hashFile, sha256: H, ed25519, genesisFrom, parseBundle, hex};
})(window);

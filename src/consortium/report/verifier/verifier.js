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
  const isAnyInt = (v) => (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
  const isText = (v) => typeof v === "string";
  const chars = (s) => Array.from(s).length;  // Unicode code points, as the spec counts text
  const textMax = (v, n) => isText(v) && chars(v) <= n;
  const bytesOf = (v, n) => isBytes(v) && (n === undefined || v.length === n);
  const bytesMax = (v, n) => isBytes(v) && v.length <= n;
  const intMax = (v, n) => isInt(v) && Number(v) <= n;
  function shape(ok, what) { if (!ok) throw malformed(what); }
  // Decoders bound sizes and leave exact key and signature lengths to the signature check (§2.1, §2.3):
  // the suite is a chain parameter; a wrong-length key or signature simply does not verify.
  function tx(bytes) {
    const v = canonical(bytes, "transaction");
    shape(Array.isArray(v) && v.length === 10 && v[0] === 1 && textMax(v[1], 64) && textMax(v[2], 64) && isInt(v[3]) && isInt(v[4])
      && bytesMax(v[5], 128) && (bytesOf(v[6], 20) || bytesOf(v[6], 0)) && textMax(v[7], 64) && Array.isArray(v[8]) && v[8].length <= 64
      && bytesMax(v[9], 128),
      "a transaction does not have the shape of docs/protocol.md §2.1");
    return {chain: v[1], group: v[2], sender: v[5], to: v[6], method: v[7], args: v[8], signature: v[9], bytes,
      hash: H(encode(v.slice(0, 9)))};
  }
  function header(bytes) {
    const v = canonical(bytes, "block header");
    shape(Array.isArray(v) && v.length === 14 && v[0] === 2 && textMax(v[1], 64) && textMax(v[2], 64) && isInt(v[3]) && bytesOf(v[4], 32)
      && isInt(v[5]) && bytesOf(v[6], 32) && bytesOf(v[7], 32) && bytesOf(v[8], 32) && bytesMax(v[9], 128) && isInt(v[10])
      && Array.isArray(v[11]) && v[11].length <= 256 && v[11].every((s) => bytesMax(s, 128))
      && Array.isArray(v[12]) && v[12].length <= 256 && isInt(v[13])
      && v[12].every((s) => Array.isArray(s) && s.length === 2 && intMax(s[0], 255) && bytesMax(s[1], 128))
      && v[12].every((s, i) => i === 0 || Number(s[0]) > Number(v[12][i - 1][0])),
      "a block header does not have the shape of docs/protocol.md §2.3 (seals in strictly increasing sealer index, each below 256)");
    // number and timestamp stay exact (a Number when safe, else a BigInt: < and > compare them exactly)
    return {chain: v[1], group: v[2], number: v[3], timestamp: v[5], txRoot: v[6], receiptRoot: v[7],
      stateRoot: v[8], view: v[10], sealers: v[11], signatures: v[12], commitView: v[13], hash: H(encode(v.slice(0, 12))), bytes};
  }
  function receipt(bytes) {
    const v = canonical(bytes, "receipt");
    shape(Array.isArray(v) && v.length === 8 && v[0] === 3 && bytesOf(v[1], 32) && intMax(v[2], 255) && isInt(v[4])
      && Array.isArray(v[5]) && v[5].length <= 256
      && v[5].every((e) => Array.isArray(e) && e.length === 3 && bytesMax(e[0], 64) && textMax(e[1], 64) && e[2] instanceof Map)
      && textMax(v[6], 1024) && bytesMax(v[7], 32), "a receipt does not have the shape of docs/protocol.md §2.4");
    return {txHash: v[1], status: v[2], error: v[6], bytes};
  }
  function listProof(bytes) {
    const v = canonical(bytes, "list proof");
    shape(Array.isArray(v) && v.length === 3 && isAnyInt(v[0]) && isAnyInt(v[1]) && Array.isArray(v[2]) && v[2].length <= 64
      && v[2].every((p) => bytesOf(p, 32)), "a list proof is [index, size, [32-byte hash, ...] (at most 64)]");
    return {index: v[0], size: v[1], path: v[2]};
  }
  const popcount = (x) => { let c = 0; for (let i = 0; i < 16; i++) if (x & (1 << i)) c++; return c; };
  function stateProof(bytes) {
    shape(bytes.length <= 33536, "a state proof is at most 33,536 bytes (docs/protocol.md §5.2)");
    const v = canonical(bytes, "state proof");
    shape(Array.isArray(v) && v.length === 3 && v[0] === 35 && Array.isArray(v[1]) && v[1].length <= 64
      && v[1].every((l) => Array.isArray(l) && l.length === 2 && intMax(l[0], 0xffff) && bytesOf(l[1], 32 * popcount(Number(l[0]))))
      && (v[2] === null || (Array.isArray(v[2]) && v[2].length === 2 && bytesOf(v[2][0], 32) && bytesOf(v[2][1], 32))),
      "a state proof does not have the shape of docs/protocol.md §5.2 (levels with 32 bytes per bitmap bit, a 32+32-byte leaf or nil)");
    return {levels: v[1], leaf: v[2]};
  }
  const addressOf = (publicKey) => H(publicKey).slice(0, 20);

  // RFC 9162 §2.1.3.2 (§2.5): the leaf is authenticated, its position is not relied on.
  function inclusion(root, leaf, proof) {
    if (typeof proof.index !== "number" || typeof proof.size !== "number" || proof.index < 0 || proof.index >= proof.size) return false;
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

  // §5.2: presence of key -> value (or, for value null, absence of key) against root.
  function stateProofHolds(root, key, value, proof) {
    const kh = H(key), levels = proof.levels, leaf = proof.leaf;
    const nib = (h, d) => (d % 2 === 0 ? h[d >> 1] >> 4 : h[d >> 1] & 0x0f);
    if (levels.length > 64) return false;
    for (const [bm, hs] of levels) { let c = 0; for (let i = 0; i < 16; i++) if (bm & (1 << i)) c++; if (hs.length !== 32 * c) return false; }
    if (leaf !== null) {
      if (leaf[0].length !== 32 || leaf[1].length !== 32) return false;
      for (let d = 0; d < levels.length; d++) if (nib(leaf[0], d) !== nib(kh, d)) return false;
    }
    if (value === null) { if (leaf !== null && eq(leaf[0], kh)) return false; }
    else if (leaf === null || !eq(leaf[0], kh) || !eq(leaf[1], H(value))) return false;
    const zero = new Uint8Array(32);
    let cur = leaf === null ? zero : H(concat([0x21], leaf[0], leaf[1]));
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

  // ---------------------------------------------------------------- genesis (§10.3)
  // TOML by smol-toml (bundled, window.ConsortiumVendor); the rules are Python's node/genesis.py, key by key:
  // required keys, unknown keys refused, ranges, distinct ids, organization CA certificates read with pkijs.
  const ID = /^[A-Za-z0-9_.-]{1,64}$/;
  class Table {
    constructor(data, prefix) { this.data = data; this.prefix = prefix; this.known = new Set(); }
    bad(key, m) { return new CannotVerify(`the genesis file: ${this.prefix}${key} ${m}`); }
    has(key) { return Object.prototype.hasOwnProperty.call(this.data, key); }
    get(key, required = true) {
      this.known.add(key);
      if (this.has(key)) return this.data[key];
      if (required) throw this.bad(key, "is missing");
      return undefined;
    }
    string(key, pattern, what) {
      const v = this.get(key);
      if (typeof v !== "string" || !v) throw this.bad(key, "must be a non-empty string");
      if (pattern && !pattern.test(v)) throw this.bad(key, `must be ${what}`);
      return v;
    }
    integer(key, lo, hi, dflt) {
      const v = dflt !== undefined && !this.has(key) ? (this.known.add(key), BigInt(dflt)) : this.get(key);
      if (typeof v !== "bigint" || v < BigInt(lo) || v > BigInt(hi)) throw this.bad(key, `must be an integer ${lo}-${hi}`);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    strings(key) {
      const v = this.get(key);
      if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw this.bad(key, "must be an array of strings");
      return v;
    }
    table(key) {
      const v = this.get(key);
      if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Date) throw this.bad(key, "must be a table");
      return new Table(v, `${this.prefix}${key}.`);
    }
    tables(key) {
      const v = this.get(key);
      if (!Array.isArray(v) || !v.every((x) => x !== null && typeof x === "object" && !Array.isArray(x) && !(x instanceof Date)))
        throw this.bad(key, `must be an array of tables ([[${key}]] sections)`);
      return v.map((x, i) => new Table(x, `${this.prefix}${key}[${i}].`));
    }
    finish() {
      const unknown = Object.keys(this.data).filter((k) => !this.known.has(k)).sort();
      if (unknown.length) throw new CannotVerify(`the genesis file: unknown key ${this.prefix}${unknown[0]}`);
    }
  }
  const genesisHex = (tbl, key, size) => {
    const s = tbl.string(key);
    try { return unhex(s, size, `${tbl.prefix}${key}`); } catch (e) { throw new CannotVerify(`the genesis file: ${e.message}`); }
  };
  /** One PEM certificate (exactly one BEGIN/END block, base64 inside) -> DER bytes, or CannotVerify. */
  function pemDer(pem, what) {
    // as cryptography reads PEM (what the Python implementation uses): the first block counts, text around it is
    // ignored, white space after BEGIN and inside the base64 too; a blank line inside starts the data after headers
    // (which a certificate has none of); the base64 canonical, its padding bits zero
    const bad = () => new CannotVerify(`the genesis file: ${what} is not one PEM X.509 certificate`);
    const begin = pem.indexOf("-----BEGIN CERTIFICATE-----");
    const m = begin < 0 ? null : /^-----BEGIN CERTIFICATE-----[ \t\r\n]*([A-Za-z0-9+/=\r\n \t]*?)-----END CERTIFICATE-----/.exec(pem.slice(begin));
    if (!m || /\n\n|\r\n\r\n/.test(m[1])) throw bad();
    const body = m[1].replace(/[ \t\r\n]+/g, "");
    if (!body || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(body)) throw bad();
    const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
    if (btoa(String.fromCharCode(...der)) !== body) throw bad();
    return der;
  }
  const VENDOR = () => {
    if (!global.ConsortiumVendor) throw new CannotVerify("this page lacks its bundled libraries (vendor.js): regenerate it with 'consortium evidence verifier-page'");
    return global.ConsortiumVendor;
  };
  /** DER -> pkijs Certificate (the whole input one DER certificate), or CannotVerify. */
  function x509(der, what) {
    const {asn1js, pkijs} = VENDOR();
    let asn;
    try { asn = asn1js.fromBER(der.slice().buffer); } catch (e) { asn = {offset: -1}; }  // asn1js throws on some values (a time not a time)
    if (asn.offset === -1 || asn.offset !== der.length) throw new CannotVerify(`the genesis file: ${what} is not a DER X.509 certificate`);
    try { return new pkijs.Certificate({schema: asn.result}); }
    catch (e) { throw new CannotVerify(`the genesis file: ${what} is not an X.509 certificate: ${e.message}`); }
  }
  const OID = {O: "2.5.4.10", OU: "2.5.4.11", CN: "2.5.4.3", basic: "2.5.29.19", eku: "2.5.29.37", ed25519: "1.3.101.112",
    timeStamping: "1.3.6.1.5.5.7.3.8"};
  const nameAttr = (name, oid) => { const a = name.typesAndValues.find((x) => x.type === oid); return a ? String(a.value.valueBlock.value) : ""; };
  const extension = (cert, oid) => (cert.extensions || []).find((e) => e.extnID === oid);
  /** An organization CA as genesis accepts it (network/certs.py check_org_ca): a self-signed Ed25519 CA of this chain. */
  async function checkOrgCa(der, name, chainId) {
    const what = `organization ${name}'s ca_cert`;
    try { return await readOrgCa(der, name, chainId, what); } catch (e) {
      // node/genesis.py refuses every certificate it cannot read as a ConfigError: so does the page, whatever pkijs threw
      if (e instanceof CannotVerify) throw e;
      throw new CannotVerify(`the genesis file: ${what} is not an X.509 certificate: ${e.message}`);
    }
  }
  async function readOrgCa(der, name, chainId, what) {
    const cert = x509(der, what), tree = derElement(der);
    // cryptography reads certificates as DER (the signature covers only the TBS part: the rest must be DER too)
    if (!tree || !derValues(tree)) throw new CannotVerify(`the genesis file: ${what} is not a DER X.509 certificate`);
    const basic = extension(cert, OID.basic);
    if (!basic || !basic.parsedValue || !basic.parsedValue.cA) throw new CannotVerify(`the genesis file: ${what} is not a CA certificate`);
    const spki = cert.subjectPublicKeyInfo, key = new Uint8Array(spki.subjectPublicKey.valueBlock.valueHexView);
    if (spki.algorithm.algorithmId !== OID.ed25519 || key.length !== 32) throw new CannotVerify(`the genesis file: ${what}: the CA key must be Ed25519`);
    const selfSigned = cert.issuer.isEqual(cert.subject) && cert.signatureAlgorithm.algorithmId === OID.ed25519
      && await ed25519(key, new Uint8Array(cert.tbsView), new Uint8Array(cert.signatureValue.valueBlock.valueHexView));
    if (!selfSigned) throw new CannotVerify(`the genesis file: ${what} is not a self-signed organization CA`);
    if (cert.notBefore.value > cert.notAfter.value) throw new CannotVerify(`the genesis file: ${what} expires before it starts`);
    if (nameAttr(cert.subject, OID.OU) !== chainId) throw new CannotVerify(`the genesis file: ${what} is a CA for another chain`);
    if (nameAttr(cert.subject, OID.O) !== name) throw new CannotVerify(`the genesis file: ${what} is the CA of another organization`);
    return hex(key);
  }
  /** ``[[tsa]]``: name, certificate (PEM, the CA TSA tokens chain to), optional policy OID (crypto/timestamp.py TrustedTsa). */
  function tsaEntry(t) {
    const name = t.string("name");
    if (chars(name) > 64 || /[\p{Cc}\p{Cf}\p{Z}]/u.test(name.replace(/ /g, ""))) throw t.bad("name", "must be 1-64 printable characters");
    const der = pemDer(t.string("certificate"), `${t.prefix}certificate`);
    const cert = x509(der, `${t.prefix}certificate`);
    if (!trustedTsa(name, der, t.has("policy") ? t.string("policy") : "")) throw t.bad("certificate", "or name or policy is not usable");
    const policy = t.has("policy") ? t.string("policy") : "";
    if (policy && !policy.split(".").every((p) => /^[0-9]+$/.test(p))) throw t.bad("policy", "must be a dotted OID such as 1.2.3.4");
    t.finish();
    return {name, der, cert, policy};
  }
  async function genesisFrom(text) {
    let doc;
    try { doc = new Table(VENDOR().parseToml(text, {integersAsBigInt: true}), ""); }
    catch (e) { if (e instanceof CannotVerify) throw e; throw new CannotVerify(`the genesis file is not valid TOML: ${String(e.message).split("\n")[0]}`); }
    const chain = doc.table("chain"), consensus = doc.table("consensus"), governance = doc.table("governance"), contracts = doc.table("contracts");
    const orgs = [];
    for (const t of doc.has("organization") ? doc.tables("organization") : []) {
      const name = t.string("name", ID, "1-64 characters of A-Z a-z 0-9 _ . -");
      orgs.push({name, der: pemDer(t.string("ca_cert"), `${t.prefix}ca_cert`)});
      t.finish();
    }
    const sealers = doc.tables("sealer").map((t) => {
      const s = {id: genesisHex(t, "node_id", 32), endpoint: t.has("endpoint") ? t.string("endpoint") : "", org: t.has("org") ? t.string("org") : ""};
      t.finish(); return s;
    });
    const committee = doc.tables("committee").map((t) => { const m = [genesisHex(t, "address", 20), t.integer("weight", 1, 1000000, 1)]; t.finish(); return m; });
    const admins = governance.strings("administrators").map((s, i) => {
      try { return unhex(s, 20, `administrators[${i}]`); } catch (e) { throw new CannotVerify(`the genesis file: governance.administrators has a bad address: ${e.message}`); } });
    const tsas = (doc.has("tsa") ? doc.tables("tsa") : []).map(tsaEntry);
    const out = {
      chainId: chain.string("chain_id", ID, "1-64 characters of A-Z a-z 0-9 _ . -"), groupId: chain.string("group_id", ID, "1-64 characters of A-Z a-z 0-9 _ . -"),
      suite: chain.string("crypto_suite"), timestamp: chain.integer("timestamp_ms", 0, 2n ** 63n - 1n),
      maxTxs: consensus.integer("max_txs_per_block", 1, 100000), viewTimeout: consensus.integer("view_timeout_ms", 100, 600000),
      window: consensus.integer("block_limit_window", 1, 1000000), threshold: governance.integer("committee_threshold", 1, 2 ** 31),
      builtin: contracts.strings("builtin"), python: chain.has("python") ? chain.string("python") : "",
      sealers: sealers.map((s) => s.id), sealerOrgs: sealers.map((s) => s.org), admins, committee, tsas,
      organizations: orgs.map((o) => o.name),
    };
    for (const t of [chain, consensus, governance, contracts, doc]) t.finish();
    const bad = (m) => new CannotVerify(`the genesis file: ${m}`);
    if (out.suite !== "ed25519-sha256") throw bad(`crypto_suite ${out.suite} is not one this page knows (ed25519-sha256)`);
    if (sealers.length < 1 || sealers.length > 256) throw bad("there must be 1-256 sealers");
    const distinct = (list) => new Set(list.map((x) => (isBytes(x) ? hex(x) : x))).size === list.length;
    if (!distinct(out.sealers)) throw bad("a sealer is listed twice");
    if (!distinct(admins)) throw bad("an administrator is listed twice");
    if (committee.length < 1 || committee.length > 256) throw bad("the committee must have 1-256 members");
    if (!distinct(committee.map((m) => m[0]))) throw bad("committee addresses must be distinct");
    const total = committee.reduce((a, m) => a + m[1], 0);
    if (out.threshold > total) throw bad(`committee_threshold must be an integer 1-${total}`);
    if (out.python && !/^3\.[0-9]{1,2}$/.test(out.python)) throw bad('python must look like "3.11"');
    if (tsas.length > 16 || !distinct(tsas.map((x) => x.name))) throw bad("[[tsa]]: at most 16 time-stamping authorities, with distinct names");
    if (!distinct(out.builtin) || !out.builtin.every((c) => ID.test(c))) throw bad("contracts must be distinct names of 1-64 characters");
    if (orgs.length > 256 || !distinct(out.organizations)) throw bad("organization names must be distinct");
    const keys = new Set();
    for (const o of orgs) keys.add(await checkOrgCa(o.der, o.name, out.chainId));
    if (keys.size !== orgs.length) throw bad("two organizations share one CA key");
    for (const s of sealers) {
      if (orgs.length && !out.organizations.includes(s.org)) throw bad(`sealer ${hx(s.id)} names organization ${s.org}, which is not a member`);
      if (!orgs.length && s.org) throw bad(`sealer ${hx(s.id)} names organization ${s.org} but the genesis lists no organizations`);
    }
    const value = ["consortium-genesis", 1, out.chainId, out.groupId, out.suite, out.timestamp, out.sealers, out.admins,
      out.committee, out.threshold, out.maxTxs, out.viewTimeout, out.window, out.builtin, out.python];
    if (tsas.length) value.push(tsas.map((x) => [x.name, x.der, x.policy]));
    if (orgs.length) { value.push(orgs.map((o) => [o.name, o.der])); value.push(out.sealerOrgs); }
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
  function keysExactly(obj, keys, what, optional = []) {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj) || obj instanceof JsonFloat) throw malformed(`${what} must be a JSON object`);
    const have = Object.keys(obj);
    const missing = keys.filter((k) => !have.includes(k)), extra = have.filter((k) => !keys.includes(k) && !optional.includes(k));
    if (missing.length) throw malformed(`${what} lacks ${missing.join(", ")}`);
    if (extra.length) throw malformed(`${what} has members this verifier does not know: ${extra.join(", ")}`);
  }
  function field(obj, key, max, what) {
    const b = unhex(obj[key], undefined, what);
    if (b.length > max) throw malformed(`${what} exceeds ${max} bytes`);
    return b;
  }
  /** A number written with a fraction or an exponent ("2.0", "1e3"): JSON has one number type, the formats do
   *  not (Python's json reads these as floats, which no integer field accepts), so it must not pass as one. */
  class JsonFloat { constructor(v) { this.value = v; } }
  const ITEM_TYPE = "consortium-evidence-item-proof";
  /** Proof file bytes (or text) -> its JSON document, as the Python reader (evidence/bundle.py read_json) reads it. */
  function readProof(proof) {
    let text = proof;
    if (isBytes(proof)) {
      if (proof.length > 16 * MiB) throw malformed(`the proof file is ${proof.length} bytes; a proof file is at most ${16 * MiB}`);
      try { text = td.decode(proof); } catch (e) { throw malformed("the proof file is not UTF-8 text, so not a JSON proof bundle"); }
    } else if (te.encode(text).length > 16 * MiB) throw malformed("the proof file exceeds 16 MiB");
    try {
      return JSON.parse(text, (k, v, ctx) => (typeof v === "number" && ctx && typeof ctx.source === "string" && /[.eE]/.test(ctx.source)) ? new JsonFloat(v) : v);
    } catch (e) { throw malformed("the proof file is not valid JSON (truncated, or not a proof bundle)"); }
  }
  /** cli/batch_cmd.py is_item_proof: the first 4,096 bytes name the item proof type. */
  function isItemProof(proof) {
    const head = (isBytes(proof) ? proof : te.encode(proof)).subarray(0, 4096);
    const has = (s) => { const n = te.encode(s); outer: for (let i = 0; i + n.length <= head.length; i++) { for (let j = 0; j < n.length; j++) if (head[i + j] !== n[j]) continue outer; return true; } return false; };
    return has('"type"') && has(ITEM_TYPE);
  }
  const isJsonInt = (v) => typeof v === "number" && Number.isInteger(v);
  /** The evidence member (§11.1): an opening {fileHash, salt}, or (inside case proofs) an unopened {key}. */
  function evidenceMember(e, what) {
    if (e !== null && typeof e === "object" && !Array.isArray(e) && Object.keys(e).length === 1 && "key" in e)
      return {unopened: true, key: unhex(e.key, 32, `${what}.key`)};
    if (e === null || typeof e !== "object" || Array.isArray(e) || e instanceof JsonFloat) throw malformed(`${what} must be a JSON object {"fileHash", "salt"}`);
    const names = Object.keys(e);
    if (names.length !== 2 || !names.includes("fileHash") || !names.includes("salt")) throw malformed(`${what} must have exactly the fields fileHash and salt`);
    return {fileHash: unhex(e.fileHash, 32, `${what}.fileHash`), salt: e.salt === null ? null : unhex(e.salt, 32, `${what}.salt`)};
  }
  function parseBundle(proof) { return parseBundleDoc(readProof(proof)); }
  function parseBundleDoc(doc) {
    if (doc === null || typeof doc !== "object" || Array.isArray(doc) || doc instanceof JsonFloat) throw malformed("a proof bundle is a JSON object");
    if (doc.type !== "consortium-evidence-proof")
      throw malformed('the file is not a proof bundle (its "type" is not "consortium-evidence-proof")');
    if (!isJsonInt(doc.version)) throw malformed('"version" must be an integer');
    if (doc.version > 2) throw new CannotVerify(`the proof is format version ${doc.version}; this page reads versions 1 and 2: get a newer verifier page`);
    if (doc.version < 1) throw malformed(`unknown proof format version ${doc.version}`);
    const common = ["type", "version", "chainId", "groupId", "genesisHash", "headers", "notarization", "cosignatures", "record", "sealerChanges"];
    keysExactly(doc, common.concat(doc.version === 1 ? ["evidenceHash"] : ["evidence"]), "the proof bundle", doc.version === 2 ? ["anchor"] : []);
    const opening = doc.version === 1 ? {fileHash: unhex(doc.evidenceHash, 32, "evidenceHash"), salt: null} : evidenceMember(doc.evidence, "evidence");
    for (const k of ["chainId", "groupId"]) if (typeof doc[k] !== "string" || chars(doc[k]) < 1 || chars(doc[k]) > 64) throw malformed(`${k} must be text of 1-64 characters`);
    if (!Array.isArray(doc.headers) || doc.headers.length < 1 || doc.headers.length > 18) throw malformed("headers must list 1-18 block headers");
    const headers = doc.headers.map((h, i) => header(field(doc.headers, i, 64 * KiB, `headers[${i}]`)));
    for (let i = 1; i < headers.length; i++) if (headers[i].number <= headers[i - 1].number) throw malformed("headers must have strictly ascending numbers");
    const used = new Set();
    const index = (i, what) => { if (!isJsonInt(i) || i < 0 || i >= headers.length) throw malformed(`${what}: header index out of range`); used.add(i); return i; };
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
    if (!Array.isArray(doc.sealerChanges) || doc.sealerChanges.length > 1024) throw malformed("sealerChanges must list 0-1024 objects");
    const sealerChanges = doc.sealerChanges.map((c, i) => { keysExactly(c, ["header", "value", "proof"], `sealerChanges[${i}]`, ["organizations"]);
      let organizations = null;  // optional: gv/node_orgs in the same state (§11.2), checked in step 4
      if ("organizations" in c) {
        const o = c.organizations, w = `sealerChanges[${i}].organizations`;
        keysExactly(o, ["value", "proof"], w);
        organizations = {value: o.value === null ? null : field(o, "value", 256 * KiB, `${w}.value`), proof: stateProof(field(o, "proof", 64 * KiB, `${w}.proof`))};
      }
      return {header: header(field(c, "header", 64 * KiB, `sealerChanges[${i}].header`)), value: field(c, "value", 64 * KiB, `sealerChanges[${i}].value`),
        proof: stateProof(field(c, "proof", 64 * KiB, `sealerChanges[${i}].proof`)), organizations}; });
    if (used.size !== headers.length) throw malformed("a header in the proof is not used by the notarization, a co-signature or the record");
    const genesisHash = unhex(doc.genesisHash, 32, "genesisHash");
    const anchor = "anchor" in doc ? anchorMember(doc.anchor) : null;
    return {version: doc.version, chainId: doc.chainId, groupId: doc.groupId, genesisHash,
      opening, headers, notarization, cosignatures, record, sealerChanges, anchor};
  }

  // ---------------------------------------------------------------- verification (§11.4)
  const EVIDENCE = unhex("0x3addfb141cd7c9c4c6543a82191a3707ac29c7a0"), EVIDENCE_ALIAS = unhex("0xa0b891485a238cad497c0e90b8308d4c0f0f1aa9");
  const isTarget = (to) => eq(to, EVIDENCE) || eq(to, EVIDENCE_ALIAS);
  const quorum = (n) => n - Math.floor((n - 1) / 3);
  const TAG = te.encode("consortium/evidence-commitment/v1");
  const ascii = (s) => te.encode(s);
  const iso = (ms) => { const d = new Date(Number(ms)); return isNaN(d.getTime()) ? `${ms} ms after the Unix epoch` : d.toISOString(); };
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

  /** §11.4 for a bundle and a file hash; with ``batchSize`` (§12.4 step 3) the bundle is a gateway batch's: the
   *  file hash is the batch root, and the transaction must be notarize_batch(root, batchSize). */
  async function verify(genesis, bundle, fileHash, batchSize = null) {
    // 1. What the proof is about
    const o = bundle.opening;
    if (o.unopened) throw new NotVerified("no-opening", `this proof carries no opening (the file's hash and salt): it proves the record ${hx(o.key)}, not that a file is its evidence`);
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
    let metadata, signerList;
    if (batchSize === null) {
      if (!isTarget(N.to) || N.method !== "notarize" || N.args.length !== 3 || !bytesOf(N.args[0], 32) || !eq(N.args[0], key))
        throw new NotVerified("not-a-notarization", "the transaction is not notarize(this file's key, metadata, signers) to the evidence contract");
      checkCall(N.args);
      metadata = N.args[1]; signerList = N.args[2];
    } else {  // §12.4: notarize_batch(root, size) signed by the gateway, no co-signers
      if (!isTarget(N.to) || N.method !== "notarize_batch" || N.args.length !== 2 || !bytesOf(N.args[0], 32) || !eq(N.args[0], key))
        throw new NotVerified("not-a-notarization", `the item's path leads to batch root ${hx(key)}, but the transaction is not notarize_batch of that root to the evidence contract`);
      if (!isInt(N.args[1]) || BigInt(N.args[1]) !== BigInt(batchSize))
        throw new NotVerified("not-a-notarization", `the item's path is for a batch of ${batchSize} items, but the transaction notarizes a batch of ${N.args[1]}`);
      if (!(batchSize > 0 && batchSize <= 2 ** 24)) throw new NotVerified("invalid-call", `a batch holds 1 to ${2 ** 24} items`);
      metadata = new Map([["batch_size", batchSize]]); signerList = [];
    }
    receiptOk(bundle.notarization, "notarization");
    if (hR.number < hN.number) throw new NotVerified("proof-altered", `the record is proven at block ${hR.number}, before its notarization in block ${hN.number}`);
    const signers = signerList.map(hex), cosigners = [];
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
      ["tx", N.hash], ["metadata", metadata], ["signers", signerList],
      ["signatures", cosigners.map((c) => new Map([["signer", unhex("0x" + c.who)], ["block", c.block], ["timestamp", c.timestamp], ["tx", c.tx]]))],
      ["status", cosigners.length === signerList.length ? "COMPLETE" : "PENDING"]]);
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
      if (h.number <= last) throw new NotVerified("proof-altered", "sealer-set changes must be in strictly ascending block order");
      if (!sameSet(h.sealers, setAt(h.number))) throw new NotVerified("sealer-set-mismatch", `sealer-set change at block ${h.number} is not sealed by the set in force there`);
      last = h.number;
      if (!stateProofHolds(h.stateRoot, ascii("gv/sealers"), c.value, c.proof)) throw new NotVerified("proof-altered", `the sealer set proven at block ${h.number} does not lead to its state root`);
      let set;
      try { if (c.value.length > 256 * 40 + 16) throw malformed("too long"); set = canonical(c.value, "sealer set"); } catch (e) { throw new NotVerified("proof-altered", `the sealer set at block ${h.number} cannot be read`); }
      if (!Array.isArray(set) || set.length < 1 || set.length > 256 || !set.every((s) => bytesOf(s, 32)) || new Set(set.map(hex)).size !== set.length)
        throw new NotVerified("proof-altered", `the sealer set at block ${h.number} is not 1-256 distinct node ids`);
      inForce.push({from: BigInt(h.number) + 1n, set});
      const o = c.organizations;  // the new sealers' organizations, if carried: proven in the same state
      if (o) {
        if (!stateProofHolds(h.stateRoot, ascii("gv/node_orgs"), o.value, o.proof)) throw new NotVerified("proof-altered", `sealer-set change at block ${h.number}: the organizations' state proof does not lead to its state root`);
        let rows = [];
        try { if (o.value !== null) rows = canonical(o.value, "organizations"); } catch (e) { throw new NotVerified("proof-altered", `sealer-set change at block ${h.number}: unreadable organizations`); }
        if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r) && r.length === 2 && bytesOf(r[0], 32) && isText(r[1]) && chars(r[1]) >= 1 && chars(r[1]) <= 64)
            || new Set(rows.map((r) => hex(r[0]))).size !== rows.length) throw new NotVerified("proof-altered", `sealer-set change at block ${h.number}: unreadable organizations`);
      }
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
    // 6. The time anchor, if any: only now is the block hash it must contain certified
    const anchor = bundle.anchor ? await verifyAnchor(genesis, bundle.anchor, hN, hR) : null;
    const meta = {}; for (const [k, v] of metadata) meta[k] = typeof v === "bigint" ? v.toString() : v;
    return {verified: true, hash: hx(fileHash), key: hx(key), mode: o.salt === null ? "public" : "salted",
      block: hN.number, blockHash: hx(hN.hash), timestampMs: hN.timestamp, time: iso(hN.timestamp),
      submitter: hx(addressOf(N.sender)), transaction: hx(N.hash), metadata: meta,
      cosigners: cosigners.map((c) => ({address: "0x" + c.who, block: c.block, time: iso(c.timestamp), transaction: hx(c.tx)})),
      pending: signers.filter((s) => !cosigners.some((c) => c.who === s)).map((s) => "0x" + s),
      status: cosigners.length === signerList.length ? "COMPLETE" : "PENDING", recordBlock: hR.number,
      chainId: genesis.chainId, groupId: genesis.groupId, genesisHash: hx(genesis.hash),
      sealers: hN.sealers.length, quorum: quorum(hN.sealers.length), sealedBy, anchor};
  }

  // ---------------------------------------------------------------- RFC 3161 time anchors (§11.6)
  // ASN.1, CMS and X.509 by pkijs + asn1js (bundled); the rules are evidence/anchor.py and crypto/timestamp.py's.
  const KNOWN_DIGESTS = ["1.3.14.3.2.26", "2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.2", "2.16.840.1.101.3.4.2.3", "2.16.840.1.101.3.4.2.4"];
  const TST_INFO = "1.2.840.113549.1.9.16.1.4", SIGNED_DATA = "1.2.840.113549.1.7.2", SHA256_OID = "2.16.840.1.101.3.4.2.1";
  const GENERALIZED_TIME = /^[0-9]{14}(\.[0-9]*[1-9])?Z$/;  // RFC 3161 §2.4.2 / DER: UTC, no trailing zeros
  /** One strict-DER ASN.1 element (all of the bytes, and they re-encode to themselves), or null. */
  function derElement(bytes) {
    const {asn1js} = VENDOR();
    let asn, again;
    try { asn = asn1js.fromBER(bytes.slice().buffer); } catch (e) { return null; }  // asn1js throws on some values (times)
    if (asn.offset === -1 || asn.offset !== bytes.length || asn.result.error) return null;
    try { again = new Uint8Array(asn.result.toBER(false)); } catch (e) { return null; }
    return eq(again, bytes) ? asn.result : null;
  }
  /** A DER time's text (UTCTime when ``utc``): digits, Z, a real calendar date and time; GeneralizedTime's
   *  fraction without trailing zeros and at most microseconds (what asn1crypto re-encodes to itself). */
  function derTime(text, utc) {
    const m = utc ? /^([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})Z$/.exec(text)
      : /^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})(\.[0-9]{0,5}[1-9])?Z$/.exec(text);
    if (!m) return false;
    const y = utc ? (+m[1] < 50 ? 2000 : 1900) + +m[1] : +m[1], mo = +m[2], d = +m[3];
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || +m[4] > 23 || +m[5] > 59 || +m[6] > 59) return false;
    const last = new Date(0); last.setUTCFullYear(y, mo, 0);  // day 0 of the next month: this month's last day
    return d <= last.getUTCDate();
  }
  const UNIVERSAL_CONSTRUCTED = new Set([8, 11, 16, 17, 29]);
  /** Lexicographic byte order (Python's, asn1crypto sorts a SET OF's encodings with it). */
  const byteOrder = (a, b) => { for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i]; return a.length - b.length; };
  const encoded = (n) => new Uint8Array(n.toBER(false));
  const kidsOf = (n) => (n && n.idBlock && n.idBlock.isConstructed && Array.isArray(n.valueBlock.value)) ? n.valueBlock.value : [];
  const sortedKids = (n) => { const e = kidsOf(n).map(encoded); return e.every((x, i) => i === 0 || byteOrder(e[i - 1], x) <= 0); };
  const isTag = (n, cls, tag, constructed) => !!n && n.idBlock.tagClass === cls && n.idBlock.tagNumber === tag && (constructed === undefined || n.idBlock.isConstructed === constructed);
  /** A primitive's content octets as they were read (a BIT STRING's start with its unused-bits count). */
  const rawOf = (n) => { const all = new Uint8Array(n.valueBeforeDecodeView || []); return all.subarray(all.length - n.lenBlock.length); };
  const oidOf = (n) => isTag(n, 1, 6, false) ? n.valueBlock.toString() : null;
  /** DER's value rules on an asn1js tree (the library parsed it; lengths and tags were checked by re-encoding):
   *  the universal types' contents as X.690 §8/§10/§11 and asn1crypto read them — minimal INTEGERs, BOOLEAN 00/FF,
   *  empty NULL, minimal OID sub-identifiers, BIT STRING padding, DER times with real dates, UTF8String/BMPString/
   *  UniversalString/IA5String that decode, primitive strings, SETs in DER order. The contents of OCTET and BIT
   *  STRINGs are not DER here; the schema-driven rules look inside the ones that hold DER. */
  function derValues(node) {
    const id = node.idBlock;
    if (!id) return false;
    if (id.tagClass === 1) {
      if (id.isConstructed !== UNIVERSAL_CONSTRUCTED.has(id.tagNumber)) return false;
      if (!id.isConstructed) {
        const raw = rawOf(node), t = id.tagNumber;
        if (t === 2 && (raw.length === 0 || (raw.length > 1 && ((raw[0] === 0 && raw[1] < 0x80) || (raw[0] === 0xff && raw[1] >= 0x80))))) return false;
        if (t === 1 && !(raw.length === 1 && (raw[0] === 0 || raw[0] === 0xff))) return false;
        if (t === 5 && raw.length) return false;
        if (t === 6 && (!raw.length || (raw[raw.length - 1] & 0x80) || raw.some((b, i) => b === 0x80 && (i === 0 || !(raw[i - 1] & 0x80))))) return false;
        if (t === 3) {
          const u = raw[0];
          if (!raw.length || u > 7 || (raw.length === 1 && u !== 0) || (raw.length > 1 && (raw[raw.length - 1] & ((1 << u) - 1)))) return false;
        }
        if (t === 23 && !derTime(String.fromCharCode(...raw), true)) return false;
        if (t === 24 && !derTime(String.fromCharCode(...raw), false)) return false;
        if (t === 12) { try { td.decode(raw); } catch (e) { return false; } }
        if (t === 22 && raw.some((b) => b > 0x7f)) return false;
        if (t === 30) { if (raw.length % 2) return false; try { new TextDecoder("utf-16be", {fatal: true}).decode(raw); } catch (e) { return false; } }
        if (t === 28) {
          if (raw.length % 4) return false;
          for (let i = 0; i < raw.length; i += 4) { const c = ((raw[i] << 24) | (raw[i + 1] << 16) | (raw[i + 2] << 8) | raw[i + 3]) >>> 0; if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false; }
        }
      }
      if (id.tagNumber === 17 && !sortedKids(node)) return false;
    }
    return kidsOf(node).every(derValues);
  }
  /** X.690 string values cryptography refuses when it loads a certificate: PrintableString outside its alphabet. */
  function stringValues(node) {
    const id = node.idBlock;
    if (id && id.tagClass === 1 && id.tagNumber === 19 && !id.isConstructed && !/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(String.fromCharCode(...rawOf(node)))) return false;
    return kidsOf(node).every(stringValues);
  }
  // The schema rules of protocol.md §11.6 "strict DER" (crypto/timestamp.py _require_der): what asn1crypto parses
  // by type — and so re-encodes — beyond the generic rules above, and the value rules both verifiers add.
  const DIGEST_NAMES = {"1.3.14.3.2.26": "SHA-1", "2.16.840.1.101.3.4.2.4": "SHA-224", "2.16.840.1.101.3.4.2.1": "SHA-256",
    "2.16.840.1.101.3.4.2.2": "SHA-384", "2.16.840.1.101.3.4.2.3": "SHA-512"};
  const DIRECTORY_STRING = [20, 19, 28, 12, 30, 22];
  const NAME_VALUE_TAGS = Object.fromEntries([
    ...["3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "15", "17", "41", "42", "43", "44", "46", "65", "97"].map((x) => [`2.5.4.${x}`, DIRECTORY_STRING]),
    ...["1", "2", "3"].map((x) => [`1.3.6.1.4.1.311.60.2.1.${x}`, DIRECTORY_STRING]),
    ["0.9.2342.19200300.100.1.1", DIRECTORY_STRING], ["0.2.262.1.10.7.20", DIRECTORY_STRING], ["2.5.4.20", [19]], ["2.5.4.45", [3]],
    ...["1", "2", "3", "4", "5", "6"].map((x) => [`2.23.133.2.${x}`, [12]]), ["1.2.840.113549.1.9.1", [22]], ["0.9.2342.19200300.100.1.25", [22]]]);
  const KEY_ALGORITHMS = ["1.2.840.113549.1.1.1", "1.2.840.113549.1.1.7", "1.2.840.113549.1.1.10", "1.2.840.10040.4.1", "1.2.840.10045.2.1",
    "1.2.840.10046.2.1", "1.3.101.110", "1.3.101.111", "1.3.101.112", "1.3.101.113"];
  const KNOWN_EXTENSIONS = ["2.5.29.9", "2.5.29.14", "2.5.29.15", "2.5.29.16", "2.5.29.17", "2.5.29.18", "2.5.29.19", "2.5.29.30", "2.5.29.31",
    "2.5.29.32", "2.5.29.33", "2.5.29.35", "2.5.29.36", "2.5.29.37", "2.5.29.46", "2.5.29.54", "1.3.6.1.5.5.7.1.1", "1.3.6.1.5.5.7.1.11",
    "1.3.6.1.5.5.7.1.24", "1.3.6.1.5.5.7.48.1.5", "1.2.840.113533.7.65.0", "2.16.840.1.113730.1.1", "1.3.6.1.4.1.11129.2.4.2", "1.3.6.1.4.1.311.20.2"];
  const SHA256_ALONE = "300b0609608648016503040201";  // ESSCertIDv2's DEFAULT hashAlgorithm, which DER leaves out
  /** An AlgorithmIdentifier of a hash: one of DIGEST_NAMES with NULL or absent parameters. */
  const digestAlgorithm = (n) => { const k = kidsOf(n); return isTag(n, 1, 16) && k.length >= 1 && k.length <= 2 && oidOf(k[0]) in DIGEST_NAMES && (k.length === 1 || isTag(k[1], 1, 5, false)); };
  /** Every attribute of a Name (SEQUENCE OF SET OF {type, value}) of a known type has a value of its type. */
  const nameValues = (name) => kidsOf(name).every((rdn) => kidsOf(rdn).every((tv) => {
    const k = kidsOf(tv), allowed = NAME_VALUE_TAGS[oidOf(k[0])];
    return k.length === 2 && (!allowed || (k[1].idBlock.tagClass === 1 && allowed.includes(k[1].idBlock.tagNumber)));
  }));
  const minimalInt = (r) => r.length === 1 || (r.length > 1 && !((r[0] === 0 && r[1] < 0x80) || (r[0] === 0xff && r[1] >= 0x80)));
  /** RFC 5280 GeneralName: [0]-[8], constructed or primitive as its type, IA5 names in ASCII, a directoryName's attributes typed. */
  const generalName = (g) => {
    const t = g.idBlock.tagNumber;
    return g.idBlock.tagClass === 3 && t <= 8 && g.idBlock.isConstructed === [0, 3, 4, 5].includes(t)
      && (![1, 2, 6].includes(t) || rawOf(g).every((b) => b <= 0x7f)) && (t !== 4 || (kidsOf(g).length === 1 && nameValues(kidsOf(g)[0])));
  };
  const context = (x, tags, constructed) => x.idBlock.tagClass === 3 && tags.includes(x.idBlock.tagNumber) && x.idBlock.isConstructed === constructed;
  /** The value of an extension X.509 defines is one DER element; the common ones by type (RFC 5280 §4.2.1). */
  function extensionValue(oid, bytes) {
    if (!KNOWN_EXTENSIONS.includes(oid)) return true;
    const v = derElement(bytes);
    if (!v || !derValues(v)) return false;
    const k = kidsOf(v);
    if (oid === "2.5.29.19") return isTag(v, 1, 16) && k.length <= 2 && (!k.length || (isTag(k[0], 1, 1) ? rawOf(k[0])[0] === 0xff && (k.length === 1 || isTag(k[1], 1, 2)) : k.length === 1 && isTag(k[0], 1, 2)));
    if (oid === "2.5.29.15") { const r = rawOf(v); return isTag(v, 1, 3, false) && (r.length === 1 || r[r.length - 1] & (1 << r[0])); }  // named bits: no trailing 0
    if (oid === "2.5.29.37") return isTag(v, 1, 16) && k.every((x) => isTag(x, 1, 6));
    if (oid === "2.5.29.14") return isTag(v, 1, 4, false);
    if (oid === "2.5.29.17" || oid === "2.5.29.18") return isTag(v, 1, 16) && k.every(generalName);
    if (oid === "2.5.29.35") return isTag(v, 1, 16) && k.every((x) => context(x, [0], false) || (context(x, [1], true) && kidsOf(x).every(generalName)) || (context(x, [2], false) && minimalInt(rawOf(x))));
    if (oid === "2.5.29.36") return isTag(v, 1, 16) && k.every((x) => context(x, [0, 1], false) && minimalInt(rawOf(x)));
    if (oid === "2.5.29.33") return isTag(v, 1, 16) && k.every((m) => isTag(m, 1, 16) && kidsOf(m).length === 2 && kidsOf(m).every((o) => isTag(o, 1, 6)));
    if (oid === "2.5.29.32") return isTag(v, 1, 16) && k.every((p) => isTag(p, 1, 16) && isTag(kidsOf(p)[0], 1, 6) && kidsOf(p).length <= 2 && (kidsOf(p).length === 1 || isTag(kidsOf(p)[1], 1, 16)));
    return true;
  }
  // The parameters a known algorithm's AlgorithmIdentifier may carry, as cryptography reads every one of a reply
  // (embedded certificates: signature, key; a SignerInfo's signature): RFC 3279/4055/5480/5758/8410.
  const NULL_OR_NO_PARAMS = new Set([...Object.keys(DIGEST_NAMES), ...["7", "8", "9", "10"].map((x) => `2.16.840.1.101.3.4.2.${x}`),
    ...["1", "5", "11", "12", "13", "14"].map((x) => `1.2.840.113549.1.1.${x}`), "1.3.14.3.2.29",
    ...["1", "2", "3", "4"].map((x) => `1.2.840.10045.4.3.${x}`), ...["1", "2", "3", "4", "13", "14", "15", "16"].map((x) => `2.16.840.1.101.3.4.3.${x}`),
    "1.2.840.113549.2.7", "1.2.840.113549.2.9"]);
  const NO_PARAMS = new Set(["1.3.101.110", "1.3.101.111", "1.3.101.112", "1.3.101.113", ...["9", "10", "11", "12"].map((x) => `2.16.840.1.101.3.4.3.${x}`)]);
  const unsignedInt = (n, bytes) => isTag(n, 1, 2, false) && !(rawOf(n)[0] & 0x80) && (!bytes || rawOf(n).length - (rawOf(n)[0] === 0 ? 1 : 0) <= bytes);
  const sequenceOf = (n, min, max, each) => isTag(n, 1, 16, true) && kidsOf(n).length >= min && kidsOf(n).length <= max && kidsOf(n).every(each);
  const explicit = (n, tag) => isTag(n, 3, tag, true) && kidsOf(n).length === 1;
  const SHA1_NULL = "300906052b0e03021a0500", MGF1_SHA1 = "301606092a864886f70d010108300906052b0e03021a0500";
  /** RFC 4055 RSASSA-PSS-params: [0] hash, [1] MGF1 {OID, hash}, [2] salt length, [3] trailer, in order, DEFAULTs left out. */
  function pssParams(p) {
    let last = -1;
    return isTag(p, 1, 16, true) && kidsOf(p).every((x) => {
      const t = x.idBlock.tagNumber, v = kidsOf(x)[0];
      if (!explicit(x, t) || t <= last || t > 3) return false;
      last = t;
      if (t === 0) return algorithmParams(v) && hex(encoded(v)) !== SHA1_NULL;
      if (t === 1) return sequenceOf(v, 2, 2, () => true) && isTag(kidsOf(v)[0], 1, 6) && algorithmParams(kidsOf(v)[1]) && hex(encoded(v)) !== MGF1_SHA1;
      return t === 2 ? unsignedInt(v, 2) && hex(rawOf(v)) !== "14" : unsignedInt(v, 1);
    });
  }
  /** An AlgorithmIdentifier whose parameters are of the type its algorithm defines (cryptography's AlgorithmParameters;
   *  an algorithm it does not know may carry anything). */
  function algorithmParams(alg) {
    const k = kidsOf(alg), oid = oidOf(k[0]), p = k[1];
    if (!isTag(alg, 1, 16, true) || !oid || k.length > 2) return false;
    if (NULL_OR_NO_PARAMS.has(oid)) return !p || isTag(p, 1, 5, false);
    if (NO_PARAMS.has(oid)) return !p;
    if (oid === "1.2.840.10045.2.1") return !!p && (isTag(p, 1, 6, false) || isTag(p, 1, 5, false) || isTag(p, 1, 16, true));  // EC: named, implicit, specified
    if (oid === "1.2.840.113549.1.1.10") return !p || pssParams(p);
    if (oid === "1.2.840.10040.4.1") return !!p && sequenceOf(p, 3, 3, (x) => unsignedInt(x));  // DSA p, q, g
    if (oid === "1.2.840.10046.2.1") return !!p && sequenceOf(p, 3, 5, (x, i) => i < 4 ? unsignedInt(x) : isTag(x, 1, 16, true));  // DH p, g, q, j, validation
    if (oid === "1.2.840.113549.1.3.1") return !!p && sequenceOf(p, 2, 3, (x, i) => unsignedInt(x, i === 2 ? 4 : 0));  // PKCS #3 DH p, g, length
    return true;
  }
  /** A subject public key as asn1crypto types it: RSAPublicKey {modulus, publicExponent} for RSA, an INTEGER for DSA/DH. */
  function publicKeyValue(algOid, key) {
    const rsa = ["1.2.840.113549.1.1.1", "1.2.840.113549.1.1.7", "1.2.840.113549.1.1.10"].includes(algOid);
    if (!rsa && !["1.2.840.10040.4.1", "1.2.840.10046.2.1"].includes(algOid)) return true;
    const k = derElement(rawOf(key).slice(1));
    return !!k && derValues(k) && (rsa ? sequenceOf(k, 2, 2, (x) => isTag(x, 1, 2, false)) : isTag(k, 1, 2, false));
  }
  /** One embedded certificate (a SEQUENCE of the certificate set) by RFC 5280's types. */
  function certificateDer(c) {
    const [tbs, sigAlg, sig] = kidsOf(c), t = kidsOf(tbs);
    if (!isTag(c, 1, 16) || kidsOf(c).length !== 3 || !isTag(sig, 1, 3, false) || rawOf(sig)[0] !== 0) return false;  // a signature is whole bytes
    let i = 0;
    if (isTag(t[0], 3, 0)) { const v = kidsOf(t[0])[0]; if (!isTag(v, 1, 2) || !["01", "02"].includes(hex(rawOf(v)))) return false; i = 1; }  // v2/v3; v1 is the DEFAULT
    const issuer = t[i + 2], subject = t[i + 4], spki = t[i + 5];
    if (![issuer, subject].every(nameValues)) return false;
    const [alg, key] = kidsOf(spki), ak = kidsOf(alg), algOid = oidOf(ak[0]);
    if (!KEY_ALGORITHMS.includes(algOid) || !isTag(key, 1, 3, false) || rawOf(key)[0] !== 0) return false;
    if (![alg, t[i + 1], sigAlg].every(algorithmParams) || !publicKeyValue(algOid, key)) return false;
    const sigOid = oidOf(kidsOf(sigAlg)[0]) || "";
    if (sigOid.startsWith("1.2.840.10045.4.") && !ecdsaSignature(rawOf(sig).slice(1))) return false;
    const exts = t.find((x) => isTag(x, 3, 3));
    for (const e of exts ? kidsOf(kidsOf(exts)[0]) : []) {
      const k = kidsOf(e);
      if (k.length === 3 && isTag(k[1], 1, 1) && rawOf(k[1])[0] === 0) return false;  // critical FALSE is the DEFAULT
      const value = k[k.length - 1];
      if (!isTag(value, 1, 4, false) || !extensionValue(oidOf(k[0]), rawOf(value))) return false;
    }
    return true;
  }
  /** A DER ECDSA-Sig-Value: SEQUENCE { r INTEGER, s INTEGER }. */
  const ecdsaSignature = (sig) => { const e = derElement(sig); return !!e && isTag(e, 1, 16, true) && kidsOf(e).length === 2 && kidsOf(e).every((x) => isTag(x, 1, 2)) && derValues(e); };
  /** A signed or unsigned attribute of a type CMS or ESS defines has values of that type. */
  function attributeValues(attr) {
    const [type, values] = kidsOf(attr), vs = kidsOf(values), oid = oidOf(type);
    const essIds = (v, withAlg) => isTag(v, 1, 16) && kidsOf(v).length >= 1 && kidsOf(v).length <= 2 && isTag(kidsOf(v)[0], 1, 16)
      && (kidsOf(v).length === 1 || isTag(kidsOf(v)[1], 1, 16)) && kidsOf(kidsOf(v)[0]).every((id) => {
        const k = kidsOf(id);
        let i = 0;
        if (withAlg && isTag(k[0], 1, 16)) { if (hex(encoded(k[0])) === SHA256_ALONE || !digestAlgorithm(k[0])) return false; i = 1; }
        return isTag(id, 1, 16) && isTag(k[i], 1, 4, false) && k.length - i <= 2 && (k.length - i === 1 || isTag(k[i + 1], 1, 16));
      });
    const rule = {"1.2.840.113549.1.9.3": (v) => isTag(v, 1, 6), "1.2.840.113549.1.9.4": (v) => isTag(v, 1, 4, false),
      "1.2.840.113549.1.9.5": (v) => isTag(v, 1, 23) || isTag(v, 1, 24),
      "1.2.840.113549.1.9.16.2.12": (v) => essIds(v, false), "1.2.840.113549.1.9.16.2.47": (v) => essIds(v, true)}[oid];
    return isTag(values, 1, 17) && (!rule || vs.every(rule));
  }
  /** protocol.md §11.6: the whole reply is DER under its types. ``asn`` is the reply's tree, ``info`` the TSTInfo's;
   *  returns the reason it is not, or "". Mirrors crypto/timestamp.py _require_der. */
  function replyDerProblem(asn, info) {
    if (!derValues(asn) || !derValues(info)) return "an element is not DER (X.690 §10-11)";
    const content = kidsOf(kidsOf(asn)[1])[1], sd = kidsOf(kidsOf(content)[0]);
    if (!isTag(sd[0], 1, 2) || hex(rawOf(sd[0])) !== "03") return "the token is not a version 3 CMS SignedData (RFC 5652 §5.1)";
    const ik = kidsOf(info);
    if (!isTag(ik[0], 1, 2) || hex(rawOf(ik[0])) !== "01") return "the TSTInfo is not version 1";
    const signerInfos = kidsOf(sd[sd.length - 1]);
    const digests = [...kidsOf(sd[1]), ...signerInfos.map((si) => kidsOf(si)[2]), kidsOf(ik[2])[0]];
    if (!digests.every(digestAlgorithm)) return `a hash algorithm is not one of ${Object.values(DIGEST_NAMES).join(", ")} with NULL or absent parameters`;
    for (const si of signerInfos) {
      const k = kidsOf(si), want = isTag(k[1], 1, 16) ? "01" : "03";
      if (hex(rawOf(k[0])) !== want) return "a SignerInfo's version does not match its signer identifier (RFC 5652 §5.3)";
      if (isTag(k[1], 1, 16) && !nameValues(kidsOf(k[1])[0])) return "a name in the signer identifier is not of its attribute types";
      if (!algorithmParams(k.find((x, j) => j > 2 && isTag(x, 1, 16)))) return "the signer's signature algorithm has parameters of another type";
      for (const attrs of k.filter((x) => isTag(x, 3, 0) || isTag(x, 3, 1))) {
        if (!sortedKids(attrs)) return "the signer's attributes are not in DER order";
        if (!kidsOf(attrs).every(attributeValues)) return "a signer attribute's value is not of its type";
      }
    }
    for (const x of ik.slice(5)) {
      if (isTag(x, 1, 1) && rawOf(x)[0] === 0) return "the TSTInfo encodes ordering FALSE, its DEFAULT";
      if (isTag(x, 1, 16)) {  // accuracy
        const a = kidsOf(x), n = (v) => { const r = rawOf(v); let b = 0n; for (const y of r) b = (b << 8n) | BigInt(y); return r[0] & 0x80 ? b - (1n << BigInt(8 * r.length)) : b; };
        if (!a.every((v) => isTag(v, 1, 2) ? n(v) >= 0n : !v.idBlock.isConstructed && minimalInt(rawOf(v)) && n(v) >= 1n && n(v) <= 999n)) return "the accuracy is negative or its millis/micros are not 1-999 (RFC 3161 §2.4.2)";
      }
      if (isTag(x, 1, 2) && rawOf(x)[0] & 0x80) return "the nonce is negative";
      if (isTag(x, 3, 0) && !(kidsOf(x).length === 1 && generalName(kidsOf(x)[0]))) return "the TSA name is not a GeneralName of its types";
    }
    for (const set of sd.filter((x) => isTag(x, 3, 0) || isTag(x, 3, 1))) if (!sortedKids(set)) return "the certificate set is not in DER order";
    const certSet = sd.find((x) => isTag(x, 3, 0));
    for (const c of kidsOf(certSet)) if (!certificateDer(c)) return "an embedded certificate is not DER as RFC 5280 defines it";
    return "";
  }
  /** crypto/timestamp.py parse_response: a granted TimeStampResp in DER, read with pkijs. */
  function timestampReply(der) {
    try { return readTimestampReply(der); } catch (e) {  // whatever the libraries throw on hostile bytes is a refusal
      if (e instanceof NotVerified || e instanceof CannotVerify) throw e;
      throw malformed(`anchor.reply is not a usable RFC 3161 reply: ${e.message}`);
    }
  }
  function readTimestampReply(der) {
    const bad = (m) => malformed(`anchor.reply is not a usable RFC 3161 reply: ${m}`);
    if (der.length > 64 * KiB) throw bad(`the time-stamp reply is ${der.length} bytes; at most ${64 * KiB} are accepted`);
    const {pkijs} = VENDOR();
    const asn = derElement(der);
    if (!asn) throw bad("not an RFC 3161 time-stamp reply in DER");
    let resp, signed, info, certs, infoAsn, certsWellFormed = true;
    try {
      resp = new pkijs.TimeStampResp({schema: asn});
      // pkijs matches schemas loosely (a wrong context tag can pass): what it read must encode back to the bytes
      if (!eq(new Uint8Array(resp.toSchema().toBER(false)), der)) throw bad("not a TimeStampResp as RFC 3161 and CMS define it (in DER)");
      if (resp.status.status !== 0) throw bad(`the TSA did not grant a token (PKI status ${resp.status.status})`);
      if (!resp.timeStampToken || resp.timeStampToken.contentType !== SIGNED_DATA) throw bad("no time-stamp token");
      signed = new pkijs.SignedData({schema: resp.timeStampToken.content});
      if (signed.encapContentInfo.eContentType !== TST_INFO || !signed.encapContentInfo.eContent) throw bad("the token holds no TSTInfo");
      const infoDer = new Uint8Array(signed.encapContentInfo.eContent.getValue());
      infoAsn = derElement(infoDer);
      if (!infoAsn) throw bad("the TSTInfo is not DER");
      info = new pkijs.TSTInfo({schema: infoAsn});
      certs = (signed.certificates || []).filter((c) => c instanceof pkijs.Certificate);
      // protocol.md §11.6: the whole reply is DER under its ASN.1 types, embedded certificates included
      const problem = replyDerProblem(asn, infoAsn);
      if (problem) throw bad(problem);
      const set = resp.timeStampToken.content.valueBlock.value
        .find((x) => x.idBlock.tagClass === 3 && x.idBlock.tagNumber === 0 && x.idBlock.isConstructed);
      certsWellFormed = (set ? set.valueBlock.value : []).every(stringValues);
      for (const c of certs) { c.subject.toJSON(); c.issuer.toJSON(); c.serialNumber.toJSON(); c.subjectPublicKeyInfo.toJSON(); }
    } catch (e) {
      if (e instanceof NotVerified) throw e;
      throw bad(`not an RFC 3161 time-stamp reply: ${e.message}`);
    }
    const timeText = generalizedTimeText(infoAsn);
    if (!GENERALIZED_TIME.test(timeText)) throw bad("its genTime is not a DER GeneralizedTime");
    const acc = info.accuracy;
    const accuracyUs = acc ? (Number(acc.seconds || 0) * 1e6 + Number(acc.millis || 0) * 1e3 + Number(acc.micros || 0)) : 0;
    return {der, signed, certs, certsWellFormed, genTime: timeText, genMs: info.genTime.getTime(), genFraction: timeText.slice(14, -1),
      accuracyUs, policy: info.policy, serial: BigInt("0x" + (hex(new Uint8Array(info.serialNumber.valueBlock.valueHexView)) || "0")),
      hashOid: info.messageImprint.hashAlgorithm.algorithmId, imprint: new Uint8Array(info.messageImprint.hashedMessage.valueBlock.valueHexView)};
  }
  /** TSTInfo's genTime as written (the GeneralizedTime element of the parsed DER, read by asn1js). */
  const generalizedTimeText = (infoAsn) => {
    const s = infoAsn.valueBlock.value.find((x) => x.idBlock && x.idBlock.tagNumber === 24 && x.idBlock.tagClass === 1);
    return s ? String.fromCharCode(...new Uint8Array(s.valueBlock.valueHexView)) : "";
  };
  /** ledger/checkpoint.py Checkpoint.from_value: [64, chain, group, first, last, root]. */
  function checkpoint(bytes) {
    shape(bytes.length <= 256, "anchor.checkpoint is longer than 256 bytes");
    const v = canonical(bytes, "anchor.checkpoint");
    shape(Array.isArray(v) && v.length === 6 && v[0] === 64 && textMax(v[1], 64) && textMax(v[2], 64) && isInt(v[3]) && isInt(v[4])
      && bytesOf(v[5], 32) && v[3] >= 1 && v[3] <= v[4] && BigInt(v[4]) - BigInt(v[3]) + 1n <= 1n << 20n,
      "anchor.checkpoint is not [64, chain, group, first, last, root] with 1 <= first <= last, at most 2^20 blocks");
    return {bytes, chain: v[1], group: v[2], first: Number(v[3]), last: Number(v[4]), root: v[5], size: Number(v[4]) - Number(v[3]) + 1};
  }
  /** evidence/bundle.py _anchor: {checkpoint, proof, reply} and optionally tsas {value, proof}. */
  function anchorMember(a) {
    keysExactly(a, ["checkpoint", "proof", "reply"], "anchor", ["tsas"]);
    const cp = checkpoint(field(a, "checkpoint", 256, "anchor.checkpoint"));
    const path = listProof(field(a, "proof", 4096, "anchor.proof"));
    const reply = timestampReply(field(a, "reply", 64 * KiB, "anchor.reply"));
    let tsas = null;
    if ("tsas" in a) {
      keysExactly(a.tsas, ["value", "proof"], "anchor.tsas");
      tsas = {value: a.tsas.value === null ? null : field(a.tsas, "value", 256 * KiB, "anchor.tsas.value"),
        proof: stateProof(field(a.tsas, "proof", 64 * KiB, "anchor.tsas.proof"))};
    }
    return {cp, path, reply, tsas};
  }
  /** A trusted TSA entry (crypto/timestamp.py TrustedTsa): a printable name, a DER certificate, a policy OID or "". */
  function trustedTsa(name, der, policy) {
    if (typeof name !== "string" || chars(name) < 1 || chars(name) > 64 || /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]|[^\S ]/u.test(name)) return null;
    if (typeof policy !== "string" || (policy && !policy.split(".").every((x) => /^[0-9]+$/.test(x)))) return null;
    if (!isBytes(der)) return null;
    const asn = derElement(der);
    if (!asn || !x509Loads(asn)) return null;
    try { return {name, der, policy, cert: new (VENDOR().pkijs.Certificate)({schema: asn})}; } catch (e) { return null; }
  }
  /** What cryptography's load_der_x509_certificate accepts (TrustedTsa checks no more): RFC 5280's Certificate as
   *  rust-asn1 reads it — DER (``asn`` re-encoded to itself), version v2/v3 written (v1 the DEFAULT, left out),
   *  algorithm parameters of their type, valid times, BIT STRINGs with zero padding, extensions {OID, TRUE or
   *  nothing, OCTET STRING}; name attribute values and extension values are not read at this point. */
  function x509Loads(asn) {
    const prim = (n, tag) => isTag(n, 1, tag, false);
    const oid = (n) => prim(n, 6) && derValues(n), int = (n) => prim(n, 2) && derValues(n), bits = (n) => prim(n, 3) && derValues(n);
    const time = (n) => (prim(n, 23) && derTime(String.fromCharCode(...rawOf(n)), true)) || (prim(n, 24) && /^[0-9]{14}Z$/.test(String.fromCharCode(...rawOf(n))) && derTime(String.fromCharCode(...rawOf(n)), false));
    const name = (n) => isTag(n, 1, 16, true) && kidsOf(n).every((rdn) => isTag(rdn, 1, 17, true) && kidsOf(rdn).every((tv) => isTag(tv, 1, 16, true) && kidsOf(tv).length === 2 && oid(kidsOf(tv)[0])));
    const extension = (e) => { const k = kidsOf(e); return isTag(e, 1, 16, true) && oid(k[0]) && (k.length === 2 || (k.length === 3 && prim(k[1], 1) && rawOf(k[1]).length === 1 && rawOf(k[1])[0] === 0xff)) && prim(k[k.length - 1], 4); };
    const [tbs, sigAlg, sig] = kidsOf(asn), t = kidsOf(tbs);
    if (!isTag(asn, 1, 16, true) || kidsOf(asn).length !== 3 || !isTag(tbs, 1, 16, true) || !algorithmParams(sigAlg) || !bits(sig)) return false;
    let i = 0;
    if (isTag(t[0], 3, 0, true)) { const v = kidsOf(t[0]); if (v.length !== 1 || !int(v[0]) || !["01", "02"].includes(hex(rawOf(v[0])))) return false; i = 1; }
    const [serial, alg, issuer, validity, subject, spki] = t.slice(i, i + 6);
    if (!int(serial) || !algorithmParams(alg) || !name(issuer) || !name(subject) || !isTag(validity, 1, 16, true) || kidsOf(validity).length !== 2 || !kidsOf(validity).every(time)) return false;
    if (!isTag(spki, 1, 16, true) || kidsOf(spki).length !== 2 || !algorithmParams(kidsOf(spki)[0]) || !bits(kidsOf(spki)[1])) return false;
    let last = 0;
    return t.slice(i + 6).every((x) => {
      const tag = x.idBlock.tagNumber, ok = x.idBlock.tagClass === 3 && tag > last && tag <= 3;
      last = tag;
      if (!ok) return false;
      if (tag < 3) return !x.idBlock.isConstructed && derValues(x) && rawOf(x).length >= 1 && rawOf(x)[0] <= 7;  // [1]/[2] IMPLICIT BIT STRING
      return x.idBlock.isConstructed && kidsOf(x).length === 1 && isTag(kidsOf(x)[0], 1, 16, true) && kidsOf(kidsOf(x)[0]).every(extension);
    });
  }
  /** evidence/anchor.py trusted_tsas: governance's list proven at the record block, else genesis's. */
  function trustedTsas(genesis, anchor, hR) {
    if (anchor.tsas === null) return {tsas: genesis.tsas, trust: "genesis"};
    if (!stateProofHolds(hR.stateRoot, ascii("gv/tsas"), anchor.tsas.value, anchor.tsas.proof))
      throw new NotVerified("anchor-mismatch", `the trusted TSA list in the anchor is not proven in block ${hR.number}'s state`);
    if (anchor.tsas.value === null) return {tsas: genesis.tsas, trust: `genesis (governance list unset at block ${hR.number})`};
    let entries;
    try { entries = canonical(anchor.tsas.value, "gv/tsas"); } catch (e) { throw new NotVerified("anchor-mismatch", "the governance TSA list in the anchor cannot be read"); }
    const out = [];
    for (const e of Array.isArray(entries) ? entries : []) if (Array.isArray(e) && e.length === 3 && isText(e[0]) && isBytes(e[1]) && isText(e[2])) {
      const tsa = trustedTsa(e[0], e[1], e[2]);
      if (tsa) out.push(tsa);
    }
    return {tsas: out, trust: `governance at block ${hR.number}`};
  }
  /** rfc3161-client's verification against one trusted root: CMS signature, chain at the token's time, and the
   *  signer certificate (exactly one SignerInfo, found by issuer and serial) with the critical id-kp-timeStamping EKU. */
  async function tokenVerifiesUnder(reply, tsa, data) {
    try { return await tokenChecks(reply, tsa, data); } catch (e) { return false; }  // a library error is a failed check
  }
  async function tokenChecks(reply, tsa, data) {
    const {pkijs} = VENDOR();
    const signed = reply.signed;
    // a certificate whose names are not valid strings fails the Python verifier's certificate loading: no path then
    if (signed.signerInfos.length !== 1 || !reply.certs.length || !reply.certsWellFormed) return false;
    const algos = signed.digestAlgorithms.map((a) => a.algorithmId);
    if (!algos.every((a) => KNOWN_DIGESTS.includes(a)) || !algos.includes(signed.signerInfos[0].digestAlgorithm.algorithmId)) return false;
    // the chain is built from the trusted root, so an embedded copy of it (outside the signature) does not count
    const used = reply.certs.filter((c) => !c.subject.isEqual(tsa.cert.subject));
    if (used.some((c) => c.signatureValue.valueBlock.unusedBits !== 0)) return false;  // a signature is whole bytes
    // an ECDSA signature is a DER ECDSA-Sig-Value (OpenSSL refuses any other encoding; pkijs would read past it)
    const ecdsaDer = (alg, sig) => !alg.startsWith("1.2.840.10045.4.") || (() => {
      const e = derElement(sig);
      return !!e && e.idBlock.tagNumber === 16 && e.valueBlock.value.length === 2 && e.valueBlock.value.every((x) => x.idBlock.tagNumber === 2) && derValues(e);
    })();
    if (!used.every((c) => ecdsaDer(c.signatureAlgorithm.algorithmId, new Uint8Array(c.signatureValue.valueBlock.valueHexView)))) return false;
    const si = signed.signerInfos[0];
    // OpenSSL picks the verifier from the signer's key and digestAlgorithm, not from signatureAlgorithm: so does this
    const signer = reply.certs.find((c) => si.sid instanceof pkijs.IssuerAndSerialNumber && c.issuer.isEqual(si.sid.issuer) && c.serialNumber.isEqual(si.sid.serialNumber));
    const ecdsaOid = {"2.16.840.1.101.3.4.2.1": "1.2.840.10045.4.3.2", "2.16.840.1.101.3.4.2.2": "1.2.840.10045.4.3.3", "2.16.840.1.101.3.4.2.3": "1.2.840.10045.4.3.4"}[si.digestAlgorithm.algorithmId];
    if (signer && signer.subjectPublicKeyInfo.algorithm.algorithmId === "1.2.840.10045.2.1" && ecdsaOid)
      si.signatureAlgorithm = new pkijs.AlgorithmIdentifier({algorithmId: ecdsaOid});
    if (!ecdsaDer(si.signatureAlgorithm.algorithmId, new Uint8Array(si.signature.valueBlock.valueHexView))) return false;
    // OpenSSL's order: an issuer from the trusted store first (an altered copy of the root in the token must not
    // spoil a path the trusted root gives), then the token's certificates
    const findIssuer = async (cert, engine, crypto) => {
      const trusted = [];
      for (const root of engine.trustedCerts) if (cert.issuer.isEqual(root.subject)) { try { if (await cert.verify(root, crypto)) trusted.push(root); } catch (e) { /* not this one */ } }
      return trusted.length ? trusted : engine.defaultFindIssuer(cert, engine, crypto);
    };
    try {
      const r = await signed.verify({signer: 0, data: data.slice().buffer, trustedCerts: [tsa.cert], checkChain: true, extendedMode: true, findIssuer});
      if (!r || r.signatureVerified !== true) return false;
    } catch (e) { return false; }
    const sid = signed.signerInfos[0].sid;
    if (!(sid instanceof pkijs.IssuerAndSerialNumber)) return false;
    const leaf = reply.certs.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber));
    const eku = leaf && extension(leaf, OID.eku);
    return !!(eku && eku.critical && eku.parsedValue && eku.parsedValue.keyPurposes.includes(OID.timeStamping));
  }
  const sameDer = (a, b) => { try { return eq(new Uint8Array(a.toSchema(true).toBER(false)), new Uint8Array(b.toSchema(true).toBER(false))); } catch (e) { return false; } };
  /** Step 6 (§11.6, evidence/anchor.py verify_anchor): the certified notarization block is in a checkpoint a trusted TSA signed. */
  async function verifyAnchor(genesis, anchor, h, hR) {
    const cp = anchor.cp, path = anchor.path;
    if (cp.chain !== h.chain || cp.group !== h.group) throw new NotVerified("anchor-mismatch", `the anchor's checkpoint is of chain ${cp.chain}/${cp.group}, not ${h.chain}/${h.group}`);
    if (!(cp.first <= h.number && h.number <= cp.last) || path.index !== Number(h.number) - cp.first || path.size !== cp.size)
      throw new NotVerified("anchor-mismatch", `the anchor covers blocks ${cp.first}-${cp.last} but is offered for block ${h.number} (path index ${path.index} of ${path.size})`);
    if (!inclusion(cp.root, h.hash, path))
      throw new NotVerified("anchor-mismatch", `block ${h.number} as proven here (${hx(h.hash)}) is not the block that was time-stamped in checkpoint ${cp.first}-${cp.last}: this history is not the one anchored`);
    const {tsas, trust} = trustedTsas(genesis, anchor, hR);
    const reply = anchor.reply, digest = H(cp.bytes);
    const refuse = (code, m) => new NotVerified(code, `the time-stamp token does not anchor this proof: ${m}`);
    if (reply.hashOid !== SHA256_OID) throw refuse("timestamp-other-hash", `the token is over a hash made with algorithm ${reply.hashOid}, not SHA-256`);
    if (!eq(reply.imprint, digest)) throw refuse("timestamp-other-hash", `the token is over hash ${hx(reply.imprint)}, not ${hx(digest)}`);
    if (!tsas.length) throw refuse("timestamp-untrusted-tsa", "the chain trusts no time-stamping authority (genesis lists no [[tsa]])");
    for (const tsa of tsas) {
      if (!(await tokenVerifiesUnder(reply, tsa, cp.bytes))) continue;
      if (tsa.policy && reply.policy !== tsa.policy) throw refuse("timestamp-invalid", `the token was issued under TSA policy ${reply.policy}; ${tsa.name} is trusted only under policy ${tsa.policy}`);
      return {tsa: tsa.name, trust, first: cp.first, last: cp.last, policy: reply.policy, serial: reply.serial.toString(),
        tsaTime: utcText(reply.genMs, reply.genFraction), accuracyMs: Math.floor(reply.accuracyUs / 1000),
        existedNoLaterThan: utcText(reply.genMs + Math.floor(reply.accuracyUs / 1000), reply.genFraction, reply.accuracyUs % 1000)};
    }
    const issuedBy = (c, tsa) => { try { return sameDer(c, tsa.cert) || c.issuer.isEqual(tsa.cert.subject); } catch (e) { return false; } };
    const claimed = tsas.find((tsa) => reply.certs.some((c) => issuedBy(c, tsa)));
    if (claimed) throw refuse("timestamp-invalid", `the token claims time-stamping authority ${claimed.name} but does not verify against its certificate (altered token?)`);
    const who = reply.certs.map((c) => { try { return nameAttr(c.subject, OID.CN) || "an unnamed signer"; } catch (e) { return "an unnamed signer"; } }).join(", ") || "an unnamed signer";
    throw refuse("timestamp-untrusted-tsa", `the token is signed by ${who}, which is not a time-stamping authority this chain trusts (trusted: ${tsas.map((x) => x.name).join(", ")})`);
  }
  /** As the CLI prints a datetime (evidence_cmd.py _utc): seconds, or milliseconds when there is a fraction. */
  function utcText(ms, fraction, extraUs = 0) {
    const d = new Date(ms);
    if (isNaN(d.getTime())) return `${ms} ms after the Unix epoch`;
    const s = d.toISOString();  // always .mmm
    return (fraction || d.getUTCMilliseconds() || extraUs) ? s : s.replace(/\.000Z$/, "Z");
  }

  // ---------------------------------------------------------------- gateway per-item proofs (§12)
  const ITEM_FIELD = /^[a-z][a-z0-9_]{0,31}$/;
  /** §12.1: canonical [48, commitment(32), metadata map] of at most 1,060 bytes, metadata within its rules. */
  function item(bytes) {
    shape(bytes.length <= 1060, "item: an encoded item is at most 1,060 bytes");
    const v = canonical(bytes, "item");
    shape(Array.isArray(v) && v.length === 3 && v[0] === 48 && bytesOf(v[1], 32) && v[2] instanceof Map, "item: not [48, commitment (32 bytes), metadata map] (docs/protocol.md §12.1)");
    const meta = v[2];
    shape(meta.size <= 16, "item: metadata has more than 16 fields");
    for (const [k, x] of meta) {
      shape(ITEM_FIELD.test(k), `item: metadata field name ${k.slice(0, 40)} must be a-z, 0-9, _ starting with a letter (at most 32)`);
      shape((isInt(x) && BigInt(x) <= 2n ** 63n - 1n) || textMax(x, 256), `item: metadata.${k} must be text of at most 256 characters or an integer in [0, 2^63 - 1]`);
    }
    shape(meta.size === 0 || encode(meta).length <= 1024, "item: metadata is more than 1,024 bytes encoded");
    return {bytes, commitment: v[1], metadata: meta};
  }
  /** evidence/item_bundle.py parse_item_bundle, in its order: the batch bundle first, then the opening, item, path. */
  function parseItemBundle(doc) {
    if (doc === null || typeof doc !== "object" || Array.isArray(doc) || doc instanceof JsonFloat || doc.type !== ITEM_TYPE)
      throw malformed(`not a consortium item proof ("type" must be ${ITEM_TYPE})`);
    if (!isJsonInt(doc.version)) throw malformed('"version" must be an integer');
    if (doc.version > 1) throw new CannotVerify(`the item proof is format version ${doc.version}; this page reads version 1: get a newer verifier page`);
    if (doc.version < 1) throw malformed(`unknown item proof format version ${doc.version}`);
    const names = Object.keys(doc), want = ["type", "version", "item", "path", "batch"];
    const missing = want.filter((k) => !names.includes(k)), extra = names.filter((k) => !want.includes(k) && k !== "evidence");
    if (missing.length) throw malformed(`the item proof lacks ${missing.join(", ")}`);
    if (extra.length) throw malformed(`the item proof has unknown fields ${extra.join(", ")}`);
    const batch = parseBundleDoc(doc.batch);
    if (batch.opening.unopened || batch.opening.salt !== null) throw malformed("batch: a batch root is notarized as itself, so the batch bundle's opening has no salt");
    const opening = "evidence" in doc ? evidenceMember(doc.evidence, "evidence") : null;
    if (opening && opening.unopened) throw malformed("evidence must have exactly the fields fileHash and salt");
    const hexMax = (v, max, what) => { if (typeof v === "string" && v.length > 2 + 2 * max) throw malformed(`${what} is longer than ${max} bytes`); return unhex(v, undefined, what); };
    const it = item(hexMax(doc.item, 1060, "item"));
    const pathBytes = hexMax(doc.path, 32 + 64 * 34, "path");
    shape(pathBytes.length <= 32 + 64 * 34, "path is too long");
    const path = listProof(pathBytes);
    if (!(typeof path.size === "number" && path.size > 0 && path.size <= 2 ** 24 && typeof path.index === "number" && path.index >= 0 && path.index < path.size))
      throw malformed(`path: index ${path.index} of a batch of ${path.size} is out of range (a batch holds 1 to ${2 ** 24} items)`);
    return {item: it, path, batch, opening};
  }
  /** §12.4: the item is this file's, its path leads to the batch root, and the batch root is notarized (§11.4). */
  async function verifyItem(genesis, b, fileHash) {
    const opening = b.opening || {fileHash: b.item.commitment, salt: null};
    if (!eq(opening.fileHash, fileHash)) throw new NotVerified("file-changed", `the file's SHA-256 is ${hx(fileHash)}, but the item proof is for ${hx(opening.fileHash)}: the file was changed, or it is another file`);
    const key = opening.salt === null ? opening.fileHash : H(concat(TAG, [0], opening.salt, opening.fileHash));
    if (!eq(key, b.item.commitment)) throw new NotVerified("proof-altered", `the proof's opening of the file gives the commitment ${hx(key)}, not the item's ${hx(b.item.commitment)}: the salt or the item was altered`);
    const root = b.batch.opening.fileHash;
    if (!inclusion(root, b.item.bytes, b.path)) throw new NotVerified("proof-altered", `the item's Merkle path does not lead to the batch root ${hx(root)}: the path was altered or is for another item`);
    const r = await verify(genesis, b.batch, root, b.path.size);
    const meta = {}; for (const [k, v] of b.item.metadata) meta[k] = typeof v === "bigint" ? v.toString() : v;
    return {...r, hash: hx(fileHash), key: hx(key), mode: opening.salt === null ? "public" : "salted",
      item: {index: b.path.index, batchSize: b.path.size, root: hx(root), commitment: hx(b.item.commitment), metadata: meta}};
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

  /** Verify: genesis text, proof file (bytes, or text), file SHA-256 -> {verified: true, ...} |
   *  {verified: false, code, reason} | {verified: null, error} (CANNOT VERIFY: exit 2 in the CLI). */
  async function run(genesisText, proofText, fileHash) {
    let genesis;
    try { genesis = await genesisFrom(genesisText); } catch (e) {
      if (e instanceof CannotVerify || e instanceof NotVerified) return {verified: null, error: e.message};
      return {verified: null, error: `the genesis file cannot be read: ${e.message}`, internal: e.name || "Error"};
    }
    try {
      if (isItemProof(proofText)) return await verifyItem(genesis, parseItemBundle(readProof(proofText)), fileHash);
      return await verify(genesis, parseBundle(proofText), fileHash);
    } catch (e) {
      if (e instanceof NotVerified) return {verified: false, code: e.code, reason: e.message};
      if (e instanceof CannotVerify) return {verified: null, error: e.message};
      // not one of ours: a bug of this page (the tests look for "internal"), reported as unreadable input
      return {verified: false, code: "malformed-proof", reason: `the proof cannot be read: ${e.message}`, internal: e.name || "Error"};
    }
  }

  // ---------------------------------------------------------------- the report's evidence reference (§14)
  // report/reference.py: parse_reference and mismatches, in the same words.
  const REF_SCHEME = "consortium:evidence?", REF_FIELDS = ["v", "chain", "group", "genesis", "file", "key", "block", "tx", "time"];
  const PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
  class BadReference extends Error {}
  /** urllib.parse.unquote after '+' -> ' ': %XX runs decoded as UTF-8 with replacement, other '%' kept. */
  const unquote = (s) => s.replace(/\+/g, " ").replace(/(%[0-9a-fA-F]{2})+/g, (run) =>
    new TextDecoder("utf-8").decode(Uint8Array.from(run.slice(1).split("%"), (x) => parseInt(x, 16))));
  function parseReference(text) {
    text = String(text).replace(new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "gu"), "");
    if ([...text].length > 1024 || !text.startsWith(REF_SCHEME))
      throw new BadReference(`an evidence reference begins with '${REF_SCHEME}' (it is printed under the report's QR code)`);
    const pairs = [];
    for (const piece of text.slice(REF_SCHEME.length).split("&")) {  // parse_qsl(keep_blank_values=True)
      if (!piece) continue;
      const i = piece.indexOf("=");
      pairs.push(i < 0 ? [unquote(piece), ""] : [unquote(piece.slice(0, i)), unquote(piece.slice(i + 1))]);
    }
    const f = Object.fromEntries(pairs), names = Object.keys(f);
    if (names.length !== pairs.length || names.length !== REF_FIELDS.length || !REF_FIELDS.every((n) => n in f))
      throw new BadReference(`an evidence reference has exactly the fields ${REF_FIELDS.join(", ")}`);
    if (f.v !== "1") throw new BadReference(`evidence reference version '${[...f.v].slice(0, 8).join("")}' is not known here (upgrade)`);
    for (const n of ["chain", "group"]) if (!/^[A-Za-z0-9_.-]{1,64}$/.test(f[n])) throw new BadReference(`${n}: 1-64 of A-Z a-z 0-9 _ . -`);
    for (const n of ["block", "time"]) if (!/^[0-9]{1,19}$/.test(f[n])) throw new BadReference(`${n}: a non-negative integer`);
    const h = {};
    for (const n of ["genesis", "file", "key", "tx"]) {
      if (!/^0[xX][0-9a-fA-F]{64}$/.test(f[n])) throw new BadReference(`${n}: a 0x-hex string of 32 bytes`);
      h[n] = "0x" + f[n].slice(2).toLowerCase();
    }
    return {chain: f.chain, group: f.group, genesis: h.genesis, file: h.file, key: h.key, block: BigInt(f.block), tx: h.tx, time: BigInt(f.time)};
  }
  /** report/reference.py mismatches: how a VERIFIED result differs from the reference ([] when it is this notarization). */
  function referenceMismatches(ref, r) {
    const got = {genesis: r.genesisHash, chain: r.chainId, group: r.groupId, file: r.hash, key: r.key, block: BigInt(r.block), tx: r.transaction, time: BigInt(r.timestampMs)};
    return ["genesis", "chain", "group", "file", "key", "block", "tx", "time"].filter((n) => ref[n] !== got[n])
      .map((n) => `${n}: the reference says ${ref[n]}, the proof shows ${got[n]}`);
  }

  global.ConsortiumVerifier = {run, hashFile, sha256: H, ed25519, genesisFrom, parseBundle, parseItemBundle, readProof, hex, parseReference, referenceMismatches, BadReference};
})(window);

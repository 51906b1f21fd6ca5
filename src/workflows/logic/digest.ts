/**
 * A short, deterministic fingerprint of a text (two 32-bit FNV-1a-style lanes), computable in workflow code (no
 * crypto there). It tells whether two computations gave the same result; it is not a defence against tampering
 * (files in the run directory are checked with sha256 for that).
 */
export function textDigest(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

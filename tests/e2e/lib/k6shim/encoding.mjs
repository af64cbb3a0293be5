// Shim of k6/encoding for tests: b64encode/b64decode with k6's encodings
// ("std", "rawstd", "url", "rawurl"); strings are UTF-8.
const NODE = { std: "base64", rawstd: "base64", url: "base64url", rawurl: "base64url" };

export function b64encode(input, encoding = "std") {
  if (!NODE[encoding]) throw new Error(`k6/encoding: unknown encoding ${encoding}`);
  const buf = typeof input === "string" ? Buffer.from(input, "utf8") : Buffer.from(input);
  const s = buf.toString(NODE[encoding]);
  if (encoding === "rawstd") return s.replace(/=+$/, "");
  if (encoding === "url") return s + "=".repeat((4 - (s.length % 4)) % 4);
  return s;
}

export function b64decode(input, encoding = "std", format) {
  const buf = Buffer.from(input, NODE[encoding] || "base64");
  return format === "s" ? buf.toString("utf8") : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
}

export default { b64encode, b64decode };

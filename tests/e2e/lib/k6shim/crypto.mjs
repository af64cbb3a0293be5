// Shim of k6/crypto for tests: hmac with k6's output encodings.
import { createHash, createHmac } from "node:crypto";

function out(buf, encoding) {
  switch (encoding) {
    case "hex":
      return buf.toString("hex");
    case "base64":
      return buf.toString("base64");
    case "base64url":
      return buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
    case "base64rawurl":
      return buf.toString("base64url");
    case "binary":
      return [...buf];
    default:
      throw new Error(`k6/crypto: unknown output encoding ${encoding}`);
  }
}

export function hmac(algorithm, secret, data, encoding) {
  return out(createHmac(algorithm, secret).update(data).digest(), encoding);
}

export function sha256(data, encoding) {
  return out(createHash("sha256").update(data).digest(), encoding);
}

export default { hmac, sha256 };

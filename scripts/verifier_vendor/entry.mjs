// The libraries the offline verifier page uses, as one global (window.ConsortiumVendor).
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { parse as parseToml } from "smol-toml";
export { asn1js, pkijs, parseToml };

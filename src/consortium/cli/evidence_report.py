"""What ``consortium evidence verify`` tells a person: what was proven, what was not, and what to do.

An arbitrator reads this, not a table of hashes: each sentence says one proven fact
and whose signatures prove it (the submitter's, the co-signers', a quorum of the
sealers', a time-stamping authority's), then what the proof does not establish.
A refusal says what failed and what the reader can do about it. The facts come from
:func:`consortium.cli.evidence_cmd.verified_json` (the ``--json`` document), so the
two outputs never disagree; new facts (a time anchor) are new sentences.
"""

from __future__ import annotations

import sys
from typing import Any

from consortium.evidence import errors as E

WHAT_TO_DO = {
    E.FILE_CHANGED: "Check that you were given the original file: this proof is for another file, or for an "
                    "earlier version of this one.",
    E.NO_OPENING: "Ask the party who notarized the file for the proof file written when it was notarized "
                  "(it holds the salt).",
    E.MALFORMED_PROOF: "The proof file is damaged or is not a proof: ask for it again.",
    E.ANOTHER_CHAIN: "Use the genesis.toml of the chain the proof comes from (ask the arbitration commission or "
                     "the consortium for it), or ask for a proof from this chain.",
    E.NOT_A_NOTARIZATION: "The proof does not show this evidence being notarized: ask for the right proof file.",
    E.TRANSACTION_FAILED: "The chain refused that transaction, so it recorded nothing: the file was not "
                          "notarized by it.",
    E.SEALER_SET: "The blocks were not signed by the sealers in force for this chain: do not rely on the proof.",
    E.TOO_FEW_SIGNATURES: "Not enough sealers signed the blocks the proof relies on: do not rely on it; ask for a "
                          "fresh proof from another member's node ('consortium evidence proof').",
    E.INVALID_SIGNATURE: "A signature in the proof is not valid: the proof was altered. Do not rely on it.",
    E.PROOF_ALTERED: "The proof's parts do not fit together: it was altered or truncated. Do not rely on it; ask "
                     "for a fresh proof.",
    E.INVALID_CALL: "The proof claims a step the evidence contract forbids: whoever certified it (the sealers) "
                    "or whoever edited it is not telling the truth. Do not rely on it.",
    E.CONTRADICTS_SIGNED: "The chain's record says something the parties never signed: the sealers who certified "
                          "it, or whoever edited the proof, lied. Do not rely on it; report it to the consortium.",
    E.ANCHOR_MISMATCH: "The time-stamp does not cover this notarization: it was taken from another history or "
                       "edited. The chain's own proof stands or falls separately; do not rely on this time.",
    E.TIMESTAMP_OTHER_HASH: "The time-stamp token is over something else: it was swapped in. Ask for a fresh proof.",
    E.TIMESTAMP_UNTRUSTED: "The time-stamp comes from an authority this chain does not trust: ask for a proof "
                           "time-stamped by one of the chain's authorities.",
    E.TIMESTAMP_INVALID: "The time-stamp token's signature or certificate does not verify: it was forged or "
                         "damaged. Ask for a fresh proof.",
    E.ANCHOR_TOO_LATE: "The proof verifies, but its time-stamp came later than your policy allows after the "
                       "block's time: weigh the block time as the sealers' word only, or ask for a proof whose "
                       "time-stamp was taken sooner (another member's node may hold one).",
    E.NO_ANCHOR: "The proof verifies, but carries no time-stamp token and your policy requires one: ask for a "
                 "proof built from a node that holds the chain's time anchors ('consortium evidence proof').",
    E.NOT_NOTARIZED: "The node has no record of this file: it was never notarized there, or it was notarized "
                     "privately (give the salt with --salt, or verify with its proof file).",
}


def _short(hex_text: str) -> str:
    return hex_text[:10] + "…" + hex_text[-4:] if len(hex_text) > 16 else hex_text


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def certifiers_phrase(doc: dict[str, Any]) -> str:
    """Who sealed a block, from ``certifiedBy``/``organizations`` (evidence_cmd.certifiers_json): the member
    organizations whose sealers did (as proven from the genesis file and certified sealer-set changes), and
    the node ids; a sealer whose organization the proof does not establish is said to be so, never guessed."""
    certified = doc.get("certifiedBy") or []
    if doc.get("organizations") is None:  # a chain whose genesis names no organizations: node ids only
        nodes = ", ".join(_short(c["node"]) for c in certified)
        return f" ({nodes})" if nodes else ""
    orgs = list(doc["organizations"])
    unproven = [c["node"] for c in certified if c["organization"] is None]
    parts = []
    if orgs:
        parts.append(f"organization{'s' if len(orgs) > 1 else ''} {_and(orgs)}")
    if unproven:
        parts.append(f"{len(unproven)} sealer{'s' if len(unproven) > 1 else ''} whose organization is not proven "
                     "by this proof")
    nodes = ", ".join(f"{_short(c['node'])} {c['organization'] or 'organization not proven'}" for c in certified)
    return f", of {' and '.join(parts)} ({nodes})" if parts else ""


def verified_sentences(name: str, doc: dict[str, Any]) -> list[str]:
    """The plain-language account of a verified proof, one fact per line."""
    lines = []
    sealed = len(doc.get("sealedBy") or []) or doc["quorum"]
    lines.append(f"The file existed unchanged no later than block {doc['block']:,}, sealed at {doc['time']} (UTC, "
                 f"the block timestamp, set by the sealers) by {sealed} of the {doc['sealers']} sealers"
                 f"{certifiers_phrase(doc)}.")
    anchor = doc.get("timeAnchor")
    if anchor is not None:
        lines.append(f"It existed no later than {anchor['existedNoLaterThan']} (time-stamping authority "
                     f"{anchor['tsa']}), an authority trusted per {anchor['trustedBy']}: RFC 3161 token serial "
                     f"{anchor['serial']}, "
                     f"TSA time {anchor['tsaTime']} ± {anchor['accuracyMs']} ms, policy {anchor['policy']}, over a "
                     f"checkpoint of blocks {anchor['checkpoint'][0]}-{anchor['checkpoint'][1]}.")
    else:
        lines.append("No time-stamping authority's token is in this proof: the time rests on the sealers alone.")
    mode = str(doc.get("mode"))
    kept = {"salted": "kept private: the chain holds a salted commitment, not the file's hash",
            "public": "notarized as a public hash (anyone holding the file can find the record)"}.get(mode, "")
    lines.append(f"It was notarized by {doc['submitter']}, whose key signed transaction {_short(doc['transaction'])}"
                 + (f"; {kept}." if kept else "."))
    cos = doc["cosigners"]
    if cos:
        who = "; ".join(f"{c['address']} (block {c['block']:,}, {c['time']})" for c in cos)
        lines.append(f"Co-signed by {who}: each signed with their own key.")
    if doc["pending"]:
        lines.append(f"Not yet co-signed by {', '.join(doc['pending'])} (status {doc['status']} as of block "
                     f"{doc['recordBlock']:,}).")
    elif doc.get("signers"):
        lines.append(f"Every party the submitter listed has co-signed (status {doc['status']}).")
    meta = doc.get("metadata") or {}
    if meta:
        fields = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(meta.items()))
        lines.append(f"The submitter recorded with it — {fields}.")
    lines.append(f"Checked against chain {doc['chainId']}/{doc['groupId']} (genesis {_short(doc['genesisHash'])}), "
                 "trusting only the genesis file; every block relied on carries the commit seals of at least "
                 f"{doc['quorum']} of its {doc['sealers']} sealers.")
    lines.append("Not proven: that what the submitter recorded is true, or the time more exactly than the sealers' "
                 "clocks allow (a block's time may be up to 60 s ahead of a sealer's clock).")
    return lines


def print_verified(name: str, doc: dict[str, Any]) -> None:
    print(f"VERIFIED: {name} is the evidence this proof is about.")
    for line in verified_sentences(name, doc):
        print(f"  {line}")
    print(f"  (sha-256 {doc['hash']}, key on chain {doc.get('key')}, block hash {doc['blockHash']})")
    sys.stdout.flush()


def print_not_verified(code: str, reason: str) -> None:
    print(f"NOT VERIFIED: {reason}")
    hint = WHAT_TO_DO.get(code)
    if hint:
        print(f"  What to do: {hint}")
    print(f"  ({code})")

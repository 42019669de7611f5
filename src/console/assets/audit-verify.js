// Cordon console: checks an audit entry in the browser, with WebCrypto only (SHA-256 and Ed25519).
// 1. the checkpoint key the console names must be one /v1/audit/keys publishes, and its key id must match
//    its name and public key (C2SP signed-note: SHA-256(name || 0x0A || 0x01 || key)[:4]);
// 2. the checkpoint (a C2SP signed note) must carry a valid Ed25519 signature by that key over its text;
// 3. the leaf hash is recomputed here from the entry's leaf bytes (RFC 6962: SHA-256(0x00 || leaf)), and
//    the inclusion path must lead from it to the checkpoint's root (RFC 9162 §2.1.3.2).
// The pure functions are exposed as globalThis.CordonAuditVerify (the tests load this file in Node).
/* global TextDecoder */
(function () {
  'use strict';
  var subtle = crypto.subtle;

  function fromBase64(text) {
    if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
      throw new Error('not base64');
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function concat(parts) {
    var length = parts.reduce(function (n, p) {
      return n + p.length;
    }, 0);
    var out = new Uint8Array(length);
    var at = 0;
    parts.forEach(function (p) {
      out.set(p, at);
      at += p.length;
    });
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    var diff = 0;
    for (var i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  function sha256(bytes) {
    return subtle.digest('SHA-256', bytes).then(function (digest) {
      return new Uint8Array(digest);
    });
  }

  function hashLeaf(leaf) {
    return sha256(concat([Uint8Array.of(0), leaf]));
  }

  function hashChildren(left, right) {
    return sha256(concat([Uint8Array.of(1), left, right]));
  }

  // RFC 9162 §2.1.3.2: does `path` lead from leaf hash `leaf` at `index` to `root` in a tree of `size`?
  async function verifyInclusion(leaf, index, size, path, root) {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
    var fn = index;
    var sn = size - 1;
    var r = leaf;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await hashChildren(path[i], r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await hashChildren(r, path[i]);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, root);
  }

  // A C2SP verifier key `<name>+<hex key id>+<base64(0x01 || 32-byte Ed25519 key)>`, its key id checked.
  async function parseVerifierKey(text) {
    var first = text.indexOf('+');
    var second = first < 0 ? -1 : text.indexOf('+', first + 1);
    if (second < 0) throw new Error('the verifier key is malformed');
    var name = text.slice(0, first);
    var id = text.slice(first + 1, second);
    var key = fromBase64(text.slice(second + 1));
    if (!/^[0-9a-f]{8}$/i.test(id) || key.length !== 33 || key[0] !== 1)
      throw new Error('the verifier key is malformed');
    var publicKey = key.subarray(1);
    var digest = await sha256(concat([new TextEncoder().encode(name), Uint8Array.of(0x0a, 0x01), publicKey]));
    var keyId = digest.subarray(0, 4);
    var hex = Array.from(keyId, function (b) {
      return b.toString(16).padStart(2, '0');
    }).join('');
    if (hex !== id.toLowerCase()) throw new Error('the key id does not match the key name and key');
    return { name: name, keyId: keyId, publicKey: publicKey };
  }

  // Verifies a signed note's signature by `key` and returns its text (up to and with the last newline before
  // the blank line). Signatures by other keys are ignored; one by this key that does not verify fails.
  async function openNote(note, key) {
    var split = note.lastIndexOf('\n\n');
    if (split < 0) throw new Error('the checkpoint has no signature block');
    var text = note.slice(0, split + 1);
    var lines = note
      .slice(split + 2)
      .replace(/\n$/, '')
      .split('\n');
    var cryptoKey = await subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
    var message = new TextEncoder().encode(text);
    var verified = false;
    for (var i = 0; i < lines.length; i++) {
      var match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(lines[i]);
      if (!match) throw new Error('a signature line is malformed');
      var blob = fromBase64(match[2]);
      if (match[1] !== key.name || !equal(blob.subarray(0, 4), key.keyId)) continue;
      var ok = blob.length === 68 && (await subtle.verify({ name: 'Ed25519' }, cryptoKey, blob.subarray(4), message));
      if (!ok) throw new Error('the checkpoint signature does not verify');
      verified = true;
    }
    if (!verified) throw new Error('the checkpoint carries no signature by the log key');
    return text;
  }

  // tlog-checkpoint body: origin, decimal size, base64 root (then extension lines).
  function parseCheckpoint(text) {
    var lines = text.slice(0, -1).split('\n');
    if (lines.length < 3 || !/^(?:0|[1-9][0-9]*)$/.test(lines[1])) throw new Error('the checkpoint is malformed');
    var root = fromBase64(lines[2]);
    if (root.length !== 32) throw new Error('the checkpoint root is malformed');
    return { origin: lines[0], size: Number(lines[1]), root: root };
  }

  // Checks one entry's proof (as /console/audit/:index/proof.json answers) against the published keys.
  // Resolves to { ok, reason, checkpoint, leafHash } and never rejects.
  async function verifyEntryProof(proof, publishedKeys) {
    var checkpoint = '';
    try {
      var published = (publishedKeys || []).some(function (k) {
        return k.verifier_key === proof.verifier_key;
      });
      if (!published) throw new Error("the checkpoint key is not the log's key the server publishes at /v1/audit/keys");
      var key = await parseVerifierKey(proof.verifier_key);
      var text = await openNote(proof.signed_note, key);
      checkpoint = text;
      var head = parseCheckpoint(text);
      if (head.origin !== proof.origin) throw new Error('the checkpoint is for another log');
      if (head.size !== proof.tree_size) throw new Error('the proof is for another tree size than the checkpoint');
      var leafBytes = fromBase64(proof.leaf);
      var leaf = JSON.parse(new TextDecoder().decode(leafBytes));
      if (leaf.index !== proof.index) throw new Error('the leaf is not the one of entry ' + proof.index);
      var leafHash = await hashLeaf(leafBytes);
      var path = proof.inclusion_path.map(fromBase64);
      if (!(await verifyInclusion(leafHash, proof.index, head.size, path, head.root)))
        throw new Error('the entry as stored now is not the one the signed tree holds: it was changed or removed');
      return { ok: true, reason: 'included in the signed tree of size ' + head.size, checkpoint: checkpoint };
    } catch (error) {
      return { ok: false, reason: error && error.message ? error.message : String(error), checkpoint: checkpoint };
    }
  }

  var api = {
    fromBase64: fromBase64,
    hashLeaf: hashLeaf,
    verifyInclusion: verifyInclusion,
    parseVerifierKey: parseVerifierKey,
    openNote: openNote,
    parseCheckpoint: parseCheckpoint,
    verifyEntryProof: verifyEntryProof,
  };
  globalThis.CordonAuditVerify = api;

  if (typeof document === 'undefined') return;

  // The JSON at `url`; an answer that is not JSON (an error page, the sign-in page after a redirect) is an error.
  function getJson(url) {
    var what = url.indexOf('/v1/') === 0 ? 'the published keys' : 'the proof';
    return fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } }).then(function (res) {
      var json = (res.headers.get('content-type') || '').indexOf('application/json') === 0;
      if (res.ok && json) return res.json();
      if (res.status === 404) throw new Error('no proof yet: the entry is not in a signed checkpoint (try again soon)');
      throw new Error('could not read ' + what + (res.ok ? ' (is your session still open?)' : ': HTTP ' + res.status));
    });
  }

  function show(output, state, text) {
    output.setAttribute('data-state', state);
    output.textContent = text;
  }

  document.addEventListener('click', function (event) {
    var button = event.target && event.target.closest ? event.target.closest('[data-verify]') : null;
    if (!button) return;
    var output = document.querySelector('.verify-result');
    var pre = document.querySelector('.verify-checkpoint');
    show(output, 'running', 'Verifying…');
    button.disabled = true;
    getJson(button.getAttribute('data-verify'))
      .then(function (proof) {
        return getJson('/v1/audit/keys?log=' + encodeURIComponent(proof.log)).then(function (published) {
          return verifyEntryProof(proof, published.keys);
        });
      })
      .catch(function (error) {
        return { ok: false, reason: error.message, checkpoint: '' };
      })
      .then(function (result) {
        show(output, result.ok ? 'ok' : 'failed', (result.ok ? 'Verified: ' : 'FAILED: ') + result.reason);
        if (pre && result.checkpoint) {
          pre.textContent = 'Signed checkpoint:\n' + result.checkpoint;
          pre.hidden = false;
        }
        button.disabled = false;
      });
  });
})();

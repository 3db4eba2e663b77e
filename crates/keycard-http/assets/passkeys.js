// Passkeys on Keycard's pages: sign in with one on /login (a button, and the browser's autofill
// in the email field), add one on /account. Without WebAuthn the buttons stay hidden and the
// pages work as before. Ceremony state never lives here: the server keeps it under the
// ceremony id; this only carries options and answers between the server and the browser.
"use strict";
(function () {
  if (!window.PublicKeyCredential) return;

  const b64 = {
    decode(s) {
      const pad = "=".repeat((4 - (s.length % 4)) % 4);
      const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buf) {
      const bytes = new Uint8Array(buf);
      let bin = "";
      for (const b of bytes) bin += String.fromCharCode(b);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };

  // The server's options (base64url strings) as the WebAuthn API wants them (buffers).
  function requestOptions(o) {
    const pk = Object.assign({}, o.publicKey);
    pk.challenge = b64.decode(pk.challenge);
    if (pk.allowCredentials) {
      pk.allowCredentials = pk.allowCredentials.map((c) => Object.assign({}, c, { id: b64.decode(c.id) }));
    }
    return pk;
  }
  function creationOptions(o) {
    const pk = Object.assign({}, o.publicKey);
    pk.challenge = b64.decode(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64.decode(pk.user.id) });
    if (pk.excludeCredentials) {
      pk.excludeCredentials = pk.excludeCredentials.map((c) => Object.assign({}, c, { id: b64.decode(c.id) }));
    }
    return pk;
  }
  // An answer as the server reads it (PublicKeyCredential.toJSON(), written out).
  function answer(cred) {
    const r = cred.response;
    const out = { id: cred.id, rawId: b64.encode(cred.rawId), type: cred.type, response: {}, extensions: {} };
    out.response.clientDataJSON = b64.encode(r.clientDataJSON);
    if (r.attestationObject) {
      out.response.attestationObject = b64.encode(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64.encode(r.authenticatorData);
      out.response.signature = b64.encode(r.signature);
      out.response.userHandle = r.userHandle ? b64.encode(r.userHandle) : null;
    }
    return JSON.stringify(out);
  }
  function show(id, text) {
    const el = document.getElementById(id);
    if (el) {
      el.textContent = text;
      el.hidden = false;
    }
  }

  // /login: the button, and autofill (conditional mediation) where the browser offers it.
  const signInForm = document.getElementById("passkey-form");
  if (signInForm) {
    let pending = null;
    async function signIn(conditional) {
      if (pending) pending.abort();
      const abort = new AbortController();
      pending = abort;
      const begun = await fetch("/v1/auth/passkey/begin", { method: "POST", headers: { accept: "application/json" } });
      if (!begun.ok) throw new Error("begin " + begun.status);
      const c = await begun.json();
      const cred = await navigator.credentials.get({
        publicKey: requestOptions(c.options),
        mediation: conditional ? "conditional" : "optional",
        signal: abort.signal,
      });
      if (!cred) return;
      signInForm.elements.ceremony_id.value = c.ceremony_id;
      signInForm.elements.credential.value = answer(cred);
      signInForm.submit();
    }
    const button = document.getElementById("passkey-sign-in");
    button.hidden = false;
    button.addEventListener("click", () =>
      signIn(false).catch((e) => {
        if (e.name !== "AbortError") show("passkey-error", signInForm.dataset.failed);
      }),
    );
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((yes) => {
        if (yes) signIn(true).catch(() => {});
      });
    }
  }

  // /account: adding a passkey.
  const addForm = document.getElementById("passkey-add-form");
  if (addForm) {
    const button = document.getElementById("passkey-add");
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        const body = new URLSearchParams({ csrf: addForm.elements.csrf.value, lang: addForm.elements.lang.value });
        const begun = await fetch("/account/passkeys/begin", { method: "POST", body, headers: { accept: "application/json" } });
        if (!begun.ok) {
          const problem = await begun.json().catch(() => ({}));
          show("passkey-error", problem.code === "reauthentication_required" ? addForm.dataset.again : addForm.dataset.failed);
          return;
        }
        const c = await begun.json();
        const cred = await navigator.credentials.create({ publicKey: creationOptions(c.options) });
        addForm.elements.ceremony_id.value = c.ceremony_id;
        addForm.elements.credential.value = answer(cred);
        addForm.submit();
      } catch (e) {
        show("passkey-error", addForm.dataset.failed);
      }
    });
  }
})();

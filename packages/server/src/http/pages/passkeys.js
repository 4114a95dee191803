// Passkey pages (/login, /setup, /enrol, /invite). Served as a file: the CSP allows no inline script.
// Uses the WebAuthn JSON helpers (parse*OptionsFromJSON, credential.toJSON()).

const statusEl = () => document.getElementById('status');

function say(text, isError = false) {
  const el = statusEl();
  el.textContent = text;
  el.classList.toggle('error', isError);
}

async function api(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify(body ?? {}),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const message = json?.error?.message ?? `Request failed (${res.status}).`;
    const err = new Error(message);
    err.code = json?.error?.code;
    throw err;
  }
  return json;
}

function ceremonyError(err) {
  if (err?.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out.';
  if (err?.name === 'InvalidStateError') return 'This authenticator is registered already.';
  return err?.message ?? String(err);
}

async function showAccount() {
  const res = await fetch('/v1/me', { credentials: 'same-origin' });
  if (!res.ok) return false;
  const me = await res.json();
  document.getElementById('who').textContent = me.user.displayName;
  document.getElementById('login-section').hidden = true;
  document.getElementById('account-section').hidden = false;
  return true;
}

function setupLogin() {
  const form = document.getElementById('login-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    say('Waiting for your passkey…');
    try {
      const { challengeId, options } = await api('/v1/auth/passkey/login/options', {});
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
      });
      await api('/v1/auth/passkey/login/verify', { challengeId, response: credential.toJSON() });
      await showAccount();
      say('Logged in.');
    } catch (err) {
      say(ceremonyError(err), true);
    }
  });
  document.getElementById('logout-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('/v1/auth/logout', {});
    } catch {}
    document.getElementById('login-section').hidden = false;
    document.getElementById('account-section').hidden = true;
    say('Logged out.');
  });
  showAccount().catch(() => {});
}

/**
 * A page opened from a one-time link (first-admin setup, enrolment): the
 * token travels in the fragment (never sent to the server in the URL, never
 * in a Referer) and is dropped from the address bar once read.
 */
function registerWithLink({ formId, missingLink, optionsPath, optionsBody, verifyPath, welcome }) {
  const token = location.hash.slice(1);
  if (token) history.replaceState(null, '', location.pathname);
  const form = document.getElementById(formId);
  if (!token) {
    say(missingLink, true);
    form.hidden = true;
    return;
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const passkeyName = String(data.get('passkeyName') ?? '').trim();
    say('Waiting for you to create your passkey…');
    try {
      const { challengeId, options } = await api(optionsPath, { token, ...optionsBody(data) });
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
      // Ask for PRF so the web client can later derive its offline-store key from this passkey.
      publicKey.extensions = { ...publicKey.extensions, prf: {} };
      const credential = await navigator.credentials.create({ publicKey });
      const { user } = await api(verifyPath, {
        token,
        challengeId,
        response: credential.toJSON(),
        ...(passkeyName ? { name: passkeyName } : {}),
      });
      form.hidden = true;
      document.getElementById('done').hidden = false;
      say(welcome(user));
    } catch (err) {
      say(ceremonyError(err), true);
    }
  });
}

function setupFirstAdmin() {
  registerWithLink({
    formId: 'setup-form',
    missingLink: 'This page needs the setup link printed by `bulwark init`.',
    optionsPath: '/v1/auth/setup/options',
    optionsBody: (data) => ({
      displayName: String(data.get('displayName') ?? ''),
      username: String(data.get('username') ?? ''),
    }),
    verifyPath: '/v1/auth/setup/verify',
    welcome: (user) => `Welcome, ${user.displayName}. Your administrator account is ready.`,
  });
}

function setupEnrolment() {
  registerWithLink({
    formId: 'enrol-form',
    missingLink: 'This page needs the enrolment link your administrator sent you.',
    optionsPath: '/v1/auth/enrol/options',
    optionsBody: () => ({}),
    verifyPath: '/v1/auth/enrol/verify',
    welcome: (user) => `Welcome, ${user.displayName}. Your passkey is ready.`,
  });
}

/**
 * An invitation link: accept with the account one is logged in with, or as
 * a new guest, which hands over to the passkey enrolment page. The token is
 * kept for this tab only, so logging in elsewhere and coming back works.
 */
function setupInvitation() {
  const fromLink = location.hash.slice(1);
  if (fromLink) {
    sessionStorage.setItem('bulwark-invitation', fromLink);
    history.replaceState(null, '', location.pathname);
  }
  const token = fromLink || sessionStorage.getItem('bulwark-invitation');
  if (!token) {
    say('This page needs the invitation link you were sent.', true);
    document.getElementById('member-section').hidden = true;
    document.getElementById('guest-section').hidden = true;
    return;
  }
  const done = (text) => {
    sessionStorage.removeItem('bulwark-invitation');
    document.getElementById('member-section').hidden = true;
    document.getElementById('guest-section').hidden = true;
    say(text);
  };
  document.getElementById('accept-button').addEventListener('click', async () => {
    try {
      const { role } = await api('/v1/invitations/accept', { token });
      done(`You joined the project as ${role}.`);
    } catch (err) {
      say(err.code === 'unauthenticated' ? 'Log in first, then accept again.' : err.message, true);
    }
  });
  const form = document.getElementById('guest-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      const { enrolUrl } = await api('/v1/invitations/accept-as-guest', {
        token,
        displayName: String(data.get('displayName') ?? ''),
        username: String(data.get('username') ?? ''),
      });
      done('Your guest account is ready: now create its passkey.');
      location.assign(enrolUrl);
    } catch (err) {
      say(err.message, true);
    }
  });
}

if (document.body.dataset.page === 'invite') {
  // Accepting needs no WebAuthn; the enrolment page it leads to checks for it.
  setupInvitation();
} else if (!window.PublicKeyCredential?.parseRequestOptionsFromJSON) {
  say(
    'This browser does not support passkeys here (a current browser over HTTPS is needed).',
    true,
  );
} else if (document.body.dataset.page === 'setup') {
  setupFirstAdmin();
} else if (document.body.dataset.page === 'enrol') {
  setupEnrolment();
} else if (document.body.dataset.page === 'login') {
  setupLogin();
}

// What the pages share: element helpers, the status line, and the session kept in this tab.

const SESSION_KEY = 'lastmile.session';

/** The first element matching `selector`. */
export const $ = (selector) => document.querySelector(selector);

/** An element with attributes (`on…` handlers and booleans set as properties) and children. */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('on') || typeof value === 'boolean') element[name] = value;
    else element.setAttribute(name, value);
  }
  element.append(...children.filter((c) => c !== null && c !== undefined && c !== ''));
  return element;
}

/** Shows the `<main>` section with this id and hides the others. */
export function show(id) {
  for (const section of document.querySelectorAll('main > section')) section.hidden = section.id !== id;
}

/** Puts `text` in the status line (empty hides it); `ok` for good news. */
export function say(text, ok = false) {
  const line = $('#message');
  line.hidden = !text;
  line.textContent = text;
  line.className = ok ? 'message ok' : 'message';
}

/** The tokens kept in this tab, or null. */
export function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

/** Keeps tokens (an AuthPayload, or a session kept earlier) in this tab; returns the session. */
export function saveSession({ accessToken, refreshToken, expiresIn, expiresAt }) {
  const session = { accessToken, refreshToken, expiresAt: expiresAt ?? Date.now() + expiresIn * 1000 };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

/** Forgets the tokens of this tab. */
export function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

// The live dashboard: sign in (choosing an organization when the account has several), the
// driver list kept current by `statusChanged` (resumed from the last cursor after a
// reconnect), and the documented actions: set Active/Inactive, share, unshare.
import { GraphQLError, Socket, request } from '/assets/client.js';
import { $, el, forgetSession, loadSession, saveSession, say, show } from '/assets/ui.js';

const DRIVER = `fragment DriverCard on Driver {
  id firstName lastName email status available
  owner { id name } depot { id name }
  sharedWith { partner { id name } sharedAt expiresAt }
}`;
const EVENT = `fragment Event on StatusEvent {
  cursor kind at driverId status previousStatus
  partner { name } user { firstName lastName } driver { ...DriverCard }
}`;
const SIGN_IN = `mutation SignIn($email: String!, $password: String!) {
  signIn(email: $email, password: $password) {
    accessToken refreshToken expiresIn scoped organizations { id name }
  }
}`;
const SESSION = 'accessToken refreshToken expiresIn';
const SELECT = `mutation Select($id: ID!) { selectOrganization(organizationId: $id) { ${SESSION} } }`;
const REFRESH = `mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { ${SESSION} } }`;
const VIEWER = `query Viewer {
  viewer {
    email settings { timezone }
    user { roles } organization { id name }
    memberships { organization { id name } status }
  }
}`;
const DRIVERS = `query Drivers($after: String) {
  organization {
    drivers(first: 500, after: $after, filter: { includeShared: true }, orderBy: { field: LAST_NAME }) {
      nodes { ...DriverCard } pageInfo { hasNextPage endCursor }
    }
  }
} ${DRIVER}`;
const RECENT = `query Recent { organization { statusEvents(first: 20) { nodes { ...Event } } } } ${EVENT} ${DRIVER}`;
const LIVE = `subscription Live($after: String) { statusChanged(after: $after) { ...Event } } ${EVENT} ${DRIVER}`;
const SET_ACTIVE = `mutation On($id: ID!) { setDriverActive(driverId: $id) { ...DriverCard } } ${DRIVER}`;
const SET_INACTIVE = `mutation Off($id: ID!) { setDriverInactive(driverId: $id) { ...DriverCard } } ${DRIVER}`;
const FIND = `query Find($name: String!) { findOrganization(name: $name) { id name } }`;
const SHARE = `mutation Share($partner: ID!, $drivers: [ID!]!) {
  shareDrivers(partnerId: $partner, driverIds: $drivers) { driver { ...DriverCard } }
} ${DRIVER}`;
const UNSHARE = `mutation Unshare($driver: ID!, $partner: ID!) {
  unshareDriver(driverId: $driver, partnerId: $partner) { ...DriverCard }
} ${DRIVER}`;
const SIGN_OUT = `mutation SignOut($token: String!) { signOut(refreshToken: $token) }`;
const RESET = `mutation Reset($email: String!) { requestPasswordReset(email: $email) }`;

/** Longest wait between reconnection attempts. */
const MAX_BACKOFF_MS = 10_000;

const board = {
  session: loadSession(),
  viewer: null,
  drivers: new Map(),
  events: [],
  cursor: null,
  socket: null,
  backoff: 500,
  refreshing: null,
  refreshTimer: null,
  partner: null,
};

// ---- session ----------------------------------------------------------------------------

function keep(tokens) {
  board.session = saveSession(tokens);
  clearTimeout(board.refreshTimer);
  // Refresh a minute before expiry, so HTTP calls rarely meet an expired token.
  const wait = Math.max(5_000, board.session.expiresAt - Date.now() - 60_000);
  board.refreshTimer = setTimeout(() => refresh().catch(() => {}), wait);
}

/** Trades the refresh token for new tokens, once at a time; a refusal signs out. */
function refresh() {
  board.refreshing ??= request(REFRESH, { token: board.session.refreshToken })
    .then((data) => keep(data.refreshToken))
    .catch((error) => {
      signedOut('Your session has ended; please sign in again.');
      throw error;
    })
    .finally(() => {
      board.refreshing = null;
    });
  return board.refreshing;
}

/** Runs an operation with the access token, refreshing it once when it has expired. */
async function call(query, variables = {}) {
  try {
    return await request(query, variables, board.session.accessToken);
  } catch (error) {
    if (!(error instanceof GraphQLError) || error.code !== 'UNAUTHENTICATED') throw error;
    await refresh();
    return request(query, variables, board.session.accessToken);
  }
}

function signedOut(message) {
  clearTimeout(board.refreshTimer);
  board.session = null;
  board.viewer = null;
  forgetSession();
  const socket = board.socket;
  board.socket = null;
  socket?.close();
  showSignIn();
  if (message) say(message);
}

// ---- views ------------------------------------------------------------------------------

function showSignIn() {
  show('signin');
  $('#who').textContent = '';
  $('#live').hidden = true;
  $('#signout').hidden = true;
  $('#switch').hidden = true;
}

function showChoice(organizations) {
  show('choose');
  $('#signout').hidden = false;
  const buttons = organizations.map((org) =>
    el('button', { type: 'button', class: 'secondary', onclick: () => choose(org.id) }, org.name),
  );
  $('#organizations').replaceChildren(...buttons);
}

async function choose(id) {
  try {
    keep((await call(SELECT, { id })).selectOrganization);
    await openBoard();
  } catch (error) {
    say(error.message);
  }
}

async function openBoard() {
  const { viewer } = await call(VIEWER);
  if (!viewer.organization) return showChoice(viewer.memberships.map((m) => m.organization));
  board.viewer = viewer;
  board.cursor = null;
  board.partner = null;
  const roles = viewer.user?.roles ?? [];
  $('#who').textContent = `${viewer.email} · ${viewer.organization.name}`;
  $('#timezone').textContent = `(times in ${viewer.settings.timezone})`;
  $('#signout').hidden = false;
  $('#switch').hidden = viewer.memberships.length < 2;
  $('#share').hidden = !roles.includes('ADMIN');
  show('board');
  if (!roles.includes('ADMIN') && !roles.includes('DISPATCHER')) {
    return say('The dashboard is for admins and dispatchers; drivers use the driver app.');
  }
  await load();
  connect();
}

/** Every visible driver (own and shared with us) and the latest changes. */
async function load() {
  const drivers = new Map();
  let after = null;
  do {
    const page = (await call(DRIVERS, { after })).organization.drivers;
    page.nodes.forEach((driver) => drivers.set(driver.id, driver));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  // Read after the drivers: replaying from this cursor covers what changed since.
  const recent = (await call(RECENT)).organization.statusEvents.nodes;
  board.drivers = drivers;
  board.events = recent;
  board.cursor = recent[0]?.cursor ?? board.cursor;
  render();
}

// ---- live updates -----------------------------------------------------------------------

function connect() {
  const socket = new Socket({
    payload: { Authorization: `Bearer ${board.session.accessToken}` },
    onOpen: () => {
      board.backoff = 500;
      setLive(true);
    },
    onClose: (code) => closed(socket, code),
  });
  board.socket = socket;
  socket.subscribe(
    { query: LIVE, variables: { after: board.cursor } },
    {
      next: (result) => (result.data ? apply(result.data.statusChanged) : say(errorText(result.errors))),
      error: () => {},
      complete: () => {},
    },
  );
}

/** 4401 (token expired) and 4403 (token refused) reconnect with fresh tokens; others retry. */
async function closed(socket, code) {
  if (board.socket !== socket) return;
  setLive(false);
  if (code === 4401 || code === 4403) {
    try {
      await refresh();
    } catch {
      return;
    }
  }
  const wait = board.backoff;
  board.backoff = Math.min(MAX_BACKOFF_MS, board.backoff * 2);
  setTimeout(() => board.socket === socket && board.session && connect(), wait);
}

function setLive(on) {
  const live = $('#live');
  live.hidden = false;
  live.className = `live ${on ? 'on' : 'off'}`;
  live.textContent = on ? 'live' : 'reconnecting…';
}

/** One event: the driver card it carries replaces ours; none for a driver means it is gone. */
function apply(event) {
  board.cursor = event.cursor;
  if (event.driver) board.drivers.set(event.driver.id, event.driver);
  else if (event.driverId) board.drivers.delete(event.driverId);
  board.events = [event, ...board.events].slice(0, 50);
  render(event.driverId);
}

// ---- rendering --------------------------------------------------------------------------

/** A time as the viewer reads it: in its timezone setting. */
function local(iso) {
  const zone = board.viewer?.settings.timezone;
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso));
}

function time(iso) {
  return el('time', { datetime: iso }, local(iso));
}

function render(changed) {
  const drivers = [...board.drivers.values()].sort(
    (a, b) => a.lastName.localeCompare(b.lastName) || a.firstName.localeCompare(b.firstName),
  );
  $('#count').textContent = `(${drivers.length})`;
  $('#drivers tbody').replaceChildren(...drivers.map((d) => row(d, d.id === changed)));
  $('#events').replaceChildren(...board.events.map(eventItem));
  if (board.partner) renderShare();
}

function roles() {
  return board.viewer?.user?.roles ?? [];
}

function own(driver) {
  return driver.owner.id === board.viewer.organization.id;
}

function row(driver, changed) {
  const mine = own(driver);
  return el(
    'tr',
    { 'data-driver': driver.id, class: changed ? 'flash' : '' },
    el('td', {}, `${driver.firstName} ${driver.lastName}`, el('div', { class: 'muted' }, driver.email)),
    el('td', {}, el('span', { class: `badge ${driver.status}`, 'data-status': '' }, driver.status)),
    el('td', {}, driver.available ? 'yes' : 'no'),
    el('td', {}, driver.depot?.name ?? (mine ? '—' : '')),
    el('td', {}, mine ? 'us' : driver.owner.name),
    el('td', {}, ...(driver.sharedWith ?? []).map((share) => shareChip(driver, share))),
    el('td', {}, mine ? statusButton(driver) : ''),
  );
}

function shareChip(driver, share) {
  const unshare = roles().includes('ADMIN')
    ? el('button', { type: 'button', class: 'secondary', onclick: () => unshareDriver(driver.id, share.partner.id) }, 'Unshare')
    : '';
  const until = share.expiresAt ? `, until ${local(share.expiresAt)}` : '';
  return el('span', { class: 'chip', title: `shared since ${local(share.sharedAt)}${until}` }, share.partner.name, unshare);
}

function statusButton(driver) {
  if (driver.status === 'INVITED') return '';
  const activate = driver.status === 'INACTIVE';
  return el(
    'button',
    { type: 'button', class: 'secondary', onclick: () => setStatus(driver.id, activate) },
    activate ? 'Set as Active' : 'Set as Inactive',
  );
}

const KIND = {
  INVITED: 'was invited', ACTIVATED: 'accepted the invitation', DEACTIVATED: 'was set Inactive',
  REACTIVATED: 'was set Active', DELETED: 'was deleted', SHARED: 'was shared', UNSHARED: 'was unshared',
  ASSIGNED: 'was assigned to a route', UNASSIGNED: 'was taken off a route', ROUTE_STARTED: 'started a route',
  ROUTE_COMPLETED: 'completed a route', ROUTE_CANCELLED: "had a route cancelled",
};

function eventItem(event) {
  const who = event.driver ?? event.user;
  const name = who ? `${who.firstName} ${who.lastName}` : 'Someone';
  const partner = event.partner ? ` (${event.partner.name})` : '';
  return el('li', {}, time(event.at), `${name} ${KIND[event.kind] ?? event.kind}${partner}`);
}

// ---- actions ----------------------------------------------------------------------------

function errorText(errors) {
  return (errors ?? []).map((e) => e.message).join('; ');
}

async function act(work) {
  try {
    await work();
  } catch (error) {
    say(error.message);
  }
}

function update(driver) {
  board.drivers.set(driver.id, driver);
  render(driver.id);
}

function setStatus(id, activate) {
  return act(async () => {
    const data = await call(activate ? SET_ACTIVE : SET_INACTIVE, { id });
    update(activate ? data.setDriverActive : data.setDriverInactive);
  });
}

function unshareDriver(driver, partner) {
  return act(async () => update((await call(UNSHARE, { driver, partner })).unshareDriver));
}

function findPartner(name) {
  return act(async () => {
    board.partner = (await call(FIND, { name })).findOrganization;
    if (!board.partner) {
      $('#share-result').replaceChildren();
      return say(`No account is named exactly “${name}”.`);
    }
    say(`Found ${board.partner.name}: tick the drivers to share, then confirm.`, true);
    renderShare();
  });
}

function renderShare() {
  const partner = board.partner;
  const mine = [...board.drivers.values()].filter((d) => own(d) && d.status !== 'INVITED');
  const items = mine.map((driver) => {
    const shared = (driver.sharedWith ?? []).some((s) => s.partner.id === partner.id);
    const box = el('input', { type: 'checkbox', value: driver.id, checked: shared, disabled: shared });
    const unshare = shared
      ? el('button', { type: 'button', class: 'link', onclick: () => unshareDriver(driver.id, partner.id) }, 'Unshare')
      : '';
    return el('label', { class: 'pick' }, box, `${driver.firstName} ${driver.lastName}`, unshare);
  });
  const confirm = el('button', { type: 'button', onclick: () => shareTicked() }, `Share with ${partner.name}`);
  $('#share-result').replaceChildren(el('div', { class: 'picks' }, ...items), confirm);
}

function shareTicked() {
  const ticked = [...document.querySelectorAll('#share-result input:checked:not(:disabled)')].map((b) => b.value);
  if (!ticked.length) return say('Tick at least one driver.');
  return act(async () => {
    const shares = (await call(SHARE, { partner: board.partner.id, drivers: ticked })).shareDrivers;
    shares.forEach((share) => board.drivers.set(share.driver.id, share.driver));
    say(`Shared ${shares.length} driver(s) with ${board.partner.name}.`, true);
    render();
  });
}

// ---- wiring -----------------------------------------------------------------------------

$('#signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  act(async () => {
    const result = (await request(SIGN_IN, { email: form.get('email'), password: form.get('password') })).signIn;
    keep(result);
    say('');
    if (result.scoped) await openBoard();
    else showChoice(result.organizations);
  });
});

$('#forgot').addEventListener('click', () => {
  const email = $('#signin-form').elements.email.value;
  if (!email) return say('Enter your email first.');
  act(async () => {
    await request(RESET, { email });
    say(`If ${email} has an account, a mail with a reset link is on its way.`, true);
  });
});

$('#share-form').addEventListener('submit', (event) => {
  event.preventDefault();
  findPartner(new FormData(event.target).get('name').trim());
});

$('#switch').addEventListener('click', () => {
  board.socket?.close();
  board.socket = null;
  showChoice(board.viewer.memberships.filter((m) => m.status !== 'INVITED').map((m) => m.organization));
});

$('#signout').addEventListener('click', () =>
  act(async () => {
    const token = board.session?.refreshToken;
    signedOut('Signed out.');
    if (token) await request(SIGN_OUT, { token });
  }),
);

if (board.session) {
  keep(board.session);
  act(openBoard);
} else {
  showSignIn();
}

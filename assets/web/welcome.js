// The pages mails link to: accepting an invitation (a new account chooses a password, an
// existing one gives its own) and resetting a password. Both read `token` from the URL.
import { request } from '/assets/client.js';
import { $, saveSession, say, show } from '/assets/ui.js';

const PREVIEW = `query Preview($token: String!) {
  invitation(token: $token) { organization { name } email firstName accountExists expiresAt }
}`;
const ACCEPT = `mutation Accept($token: String!, $password: String!) {
  acceptInvitation(input: { token: $token, password: $password }) {
    accessToken refreshToken expiresIn viewer { organization { name } }
  }
}`;
const RESET = `mutation Reset($token: String!, $password: String!) {
  resetPassword(token: $token, newPassword: $password)
}`;

const token = new URLSearchParams(location.search).get('token') ?? '';

/** Runs `work` on the form's fields, with the button off meanwhile; errors go to the status line. */
function onSubmit(form, work) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      say('');
      await work(new FormData(form));
    } catch (error) {
      say(error.message);
    } finally {
      button.disabled = false;
    }
  });
}

function checkRepeat(fields) {
  if (fields.get('repeat') !== fields.get('password')) throw new Error('The two passwords differ.');
}

async function acceptInvitation() {
  const invitation = token ? (await request(PREVIEW, { token })).invitation : null;
  if (!invitation) return show('invalid');
  $('#first-name').textContent = invitation.firstName;
  $('#organization').textContent = invitation.organization.name;
  $('#email').textContent = invitation.email;
  $('#expires').textContent = new Date(invitation.expiresAt).toLocaleString();
  $('#new-account').hidden = invitation.accountExists;
  $('#existing-account').hidden = !invitation.accountExists;
  $('#repeat').hidden = invitation.accountExists;
  show('accept');
  onSubmit($('#accept-form'), async (fields) => {
    if (!invitation.accountExists) checkRepeat(fields);
    const accepted = (await request(ACCEPT, { token, password: fields.get('password') })).acceptInvitation;
    saveSession(accepted);
    $('#joined').textContent = accepted.viewer.organization?.name ?? invitation.organization.name;
    show('done');
  });
}

async function resetPassword() {
  if (!token) say('This link has no token: open the link from the mail as it is.');
  onSubmit($('#reset-form'), async (fields) => {
    checkRepeat(fields);
    await request(RESET, { token, password: fields.get('password') });
    show('done');
  });
}

const page = document.body.dataset.page;
(page === 'accept-invitation' ? acceptInvitation() : resetPassword()).catch((error) => {
  show('invalid');
  say(error.message);
});

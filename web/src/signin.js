// Sign-in: a link to the organisation's identity provider when OIDC is configured (/auth/login), and a form
// for a static access token when the gateway allows it (/auth/token, the embedded default of `make run`).
import {ApiError} from './api.js';
import {field, h, replace} from './dom.js';

// Only a local path may be returned to (not //host, not a URL).
function returnTo() {
  const value = new URLSearchParams(window.location.search).get('return_to') || '/ui/';
  return value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/ui/';
}

export async function render(ui, current) {
  const content = ui.content();
  const destination = returnTo();
  if (current.signed_in) {
    replace(content,
            h('p', {}, `You are signed in as ${current.name || current.user}.`),
            h('p', {}, h('a', {href: destination}, 'Continue')));
    return;
  }
  const parts = [h('p', {}, 'Sign in to upload files, follow your transfers and review the transfers assigned to you.')];
  if (current.sign_in_url) {
    const url = `${current.sign_in_url}?return_to=${encodeURIComponent(destination)}`;
    parts.push(h('section', {'aria-labelledby': 'oidc-heading'},
                 h('h2', {id: 'oidc-heading'}, 'With your organisation account'),
                 h('p', {}, h('a', {href: url, class: 'button', id: 'oidc-sign-in'}, 'Sign in with your organisation account'))));
  }
  if (current.token_sign_in) {
    const input = h('input', {type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false'});
    const button = h('button', {type: 'submit'}, 'Sign in with the token');
    const form = h('form', {class: 'stack narrow', novalidate: false},
                   field('Access token', input, 'A token from the gateway configuration (tokens:), or the local token in airlock-data/local-token.'),
                   h('div', {class: 'actions'}, button));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      button.disabled = true;
      ui.status('Signing in…');
      try {
        const response = await fetch('/auth/token', {
          method: 'POST', credentials: 'same-origin',
          headers: {'Content-Type': 'application/json', Accept: 'application/json'},
          body: JSON.stringify({token: input.value}),
        });
        if (!response.ok) {
          let message = 'the token was not accepted';
          try { message = (await response.json()).message || message; } catch { /* not JSON */ }
          throw new ApiError(response.status, 'sign_in', message);
        }
        window.location.assign(destination);
      } catch (error) {
        button.disabled = false;
        ui.error(error, 'Sign-in failed');
        input.focus();
      }
    });
    parts.push(h('section', {'aria-labelledby': 'token-heading'},
                 h('h2', {id: 'token-heading'}, current.sign_in_url ? 'With an access token' : 'With an access token'),
                 form));
  }
  if (!current.sign_in_url && !current.token_sign_in) {
    parts.push(h('p', {}, 'This gateway has no browser sign-in configured. Use the HTTP API with a bearer token.'));
  }
  replace(content, ...parts);
}

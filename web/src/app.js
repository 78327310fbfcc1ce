// The pages' entry point: reads the sign-in state, fills the header's account area, then runs the module of
// the page the shell names (<body data-page="...">). Every page is built from the JSON API in the browser.
import {api, session} from './api.js';
import {h, replace} from './dom.js';

const pages = {
  'upload': () => import('./upload.js'),
  'transfers': () => import('./transfers.js'),
  'transfer': () => import('./transfer.js'),
  'queue': () => import('./queue.js'),
  'case': () => import('./case.js'),
  'sign-in': () => import('./signin.js'),
};

// The shared parts every page module receives.
export const ui = {
  content: () => document.getElementById('content'),
  title(text) {
    document.getElementById('page-title').textContent = text;
    document.title = `${text} - Airlock`;
  },
  // A message in the live region (read out by screen readers); tone: info, good, bad.
  status(text, tone = 'info') {
    const region = document.getElementById('status');
    if (!text) {
      replace(region);
      return;
    }
    replace(region, h('p', {class: `notice ${tone}`}, text));
  },
  error(error, what) {
    const message = error && error.message ? error.message : String(error);
    ui.status(what ? `${what}: ${message}` : message, 'bad');
  },
};

function signInPath() {
  const here = window.location.pathname + window.location.search;
  return `/ui/sign-in?return_to=${encodeURIComponent(here)}`;
}

function renderAccount(current) {
  const area = document.getElementById('account');
  if (!current.signed_in) {
    replace(area, h('a', {href: signInPath(), class: 'button secondary'}, 'Sign in'));
    return;
  }
  const roles = (current.roles || []).join(', ');
  const signOut = h('button', {type: 'button', class: 'secondary', on: {click: async () => {
    signOut.disabled = true;
    try {
      await api('POST', '/auth/logout');
      window.location.assign('/ui/sign-in');
    } catch (error) {
      signOut.disabled = false;
      ui.error(error, 'Signing out failed');
    }
  }}}, 'Sign out');
  replace(area,
          h('span', {class: 'who'}, 'Signed in as ', h('strong', {}, current.name || current.user),
            roles ? h('span', {class: 'roles'}, ` (${roles})`) : null),
          signOut);
}

function markCurrentLink() {
  const path = window.location.pathname;
  for (const link of document.querySelectorAll('.site-header nav a')) {
    const target = link.getAttribute('href');
    const current = target === '/ui/' ? path === '/ui/' : path === target || path.startsWith(`${target}/`);
    if (current) link.setAttribute('aria-current', 'page');
  }
}

async function main() {
  markCurrentLink();
  const page = document.body.dataset.page;
  let current;
  try {
    current = await session();
  } catch (error) {
    ui.error(error, 'The gateway did not answer');
    return;
  }
  renderAccount(current);
  if (!current.signed_in && page !== 'sign-in') {
    window.location.replace(signInPath());
    return;
  }
  const load = pages[page];
  if (!load) {
    ui.status('Unknown page.', 'bad');
    return;
  }
  const module = await load();
  try {
    await module.render(ui, current);
  } catch (error) {
    if (error && error.status === 401) {
      window.location.replace(signInPath());
      return;
    }
    ui.error(error, 'This page could not be loaded');
  }
}

main();

// The reviewer queue: the cases I may act on, the longest waiting first. Filters: which cases (view),
// workspace, role; they are kept in the address so the page can be bookmarked and shared.
import {get, query} from './api.js';
import {field, h, replace, table} from './dom.js';
import {caseWord, duration, list, stateBadge, voteWord} from './words.js';

const views = [
  ['to_review', 'Waiting for my review'],
  ['open', 'Open cases I may act on'],
  ['closed', 'Closed cases'],
  ['all', 'All my cases'],
];

export async function render(ui, current) {
  const content = ui.content();
  const params = new URLSearchParams(window.location.search);
  const view = h('select', {name: 'view'}, views.map(([value, text]) => h('option', {value}, text)));
  view.value = params.get('view') || 'to_review';
  const workspace = h('input', {type: 'text', name: 'workspace', value: params.get('workspace') || '', autocomplete: 'off'});
  const role = h('select', {name: 'role'}, h('option', {value: ''}, 'Any of my roles'),
                 (current.roles || []).map((name) => h('option', {value: name}, name)));
  role.value = params.get('role') || '';
  const order = h('select', {name: 'order'}, h('option', {value: 'oldest'}, 'Longest waiting first'),
                  h('option', {value: 'newest'}, 'Newest first'));
  order.value = params.get('order') || 'oldest';
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter the cases'},
                 field('Show', view), field('Workspace', workspace), field('Role', role), field('Order', order),
                 h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Apply filters')));
  const results = h('div', {class: 'results', 'aria-live': 'polite'});
  replace(content, form, results);

  let cases = [];
  const load = async (after) => {
    const filters = {view: view.value, workspace: workspace.value.trim(), role: role.value, order: order.value};
    const answer = await get(`/api/v1/cases${query({...filters, limit: 50, after})}`);
    cases = after ? cases.concat(answer.cases || []) : (answer.cases || []);
    show(answer.next);
  };
  const show = (next) => {
    if (cases.length === 0) {
      replace(results, h('p', {class: 'empty'}, view.value === 'to_review'
        ? 'Nothing is waiting for your review.' : 'No cases match these filters.'));
      return;
    }
    const rows = cases.map((item) => [
      h('a', {href: `/ui/reviews/${item.transfer_id}`}, item.filename || item.transfer_id),
      item.requester,
      `${item.workspace} → ${item.datasource}`,
      h('span', {}, caseWord(item.status), item.round > 1 ? ` (round ${item.round})` : ''),
      stateBadge(item.transfer_state),
      `${item.approvals} of ${item.approvals_required}`,
      (item.roles_missing || []).length ? list(item.roles_missing) : 'none',
      duration(item.age_seconds),
      item.my_vote ? voteWord(item.my_vote) : '—',
    ]);
    const more = next ? h('button', {type: 'button', class: 'secondary', on: {click: () => load(next).catch((error) =>
      ui.error(error, 'More cases could not be loaded'))}}, 'Show more') : null;
    replace(results,
            h('p', {}, `${cases.length} case${cases.length > 1 ? 's' : ''}.`),
            table('Review cases', ['File', 'Requester', 'Workspace → data source', 'Case', 'Transfer', 'Approvals',
                                   'Roles missing', 'Waiting', 'My vote'], rows,
                  {class: 'queue', hideCaption: true, region: true}),
            more);
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const search = query({view: view.value === 'to_review' ? '' : view.value, workspace: workspace.value.trim(),
                          role: role.value, order: order.value === 'oldest' ? '' : order.value});
    window.history.replaceState(null, '', `/ui/reviews${search}`);
    try {
      await load(null);
      ui.status('Filters applied.');
    } catch (error) {
      ui.error(error, 'The cases could not be loaded');
    }
  });
  await load(null);
}

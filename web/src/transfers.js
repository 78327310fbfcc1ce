// My transfers: each of my transfers, newest first, with its state and what it waits for.
import {get, query} from './api.js';
import {h, replace, table} from './dom.js';
import {stateBadge, time} from './words.js';

export async function render(ui, current) {
  const content = ui.content();
  replace(content, h('p', {}, 'Loading your transfers…'));
  // The API lists every transfer to a reviewer; this page shows only the signed-in user's own.
  const mine = [];
  let after = null;
  for (let page = 0; page < 20; page += 1) {
    const answer = await get(`/api/v1/transfers${query({limit: 1000, after})}`);
    for (const transfer of answer.transfers || []) {
      if (transfer.owner === current.user) mine.push(transfer);
    }
    after = answer.next;
    if (!after) break;
  }
  mine.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  if (mine.length === 0) {
    replace(content, h('p', {}, 'You have no transfers yet. ', h('a', {href: '/ui/'}, 'Upload files')));
    return;
  }
  const rows = mine.map((transfer) => [
    h('a', {href: `/ui/transfers/${transfer.id}`}, transfer.filename || transfer.id),
    `${transfer.workspace} → ${transfer.datasource}`,
    stateBadge(transfer.state),
    transfer.waiting_for || (transfer.state === 'returned' ? 'your changes' : '—'),
    transfer.reason || '',
    time(transfer.updated_at),
  ]);
  replace(content,
          h('p', {}, `${mine.length} transfer${mine.length > 1 ? 's' : ''}, newest first.`),
          table('My transfers', ['File', 'Workspace → data source', 'State', 'Waiting for', 'Why', 'Last change'], rows,
                {class: 'transfers', hideCaption: true, region: true}));
}

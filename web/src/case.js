// The case page: what a reviewer needs to decide. The file's facts and findings, why the policies escalated
// it (each matched rule, its reason and its place in the policies), a safe preview of the content (built
// from text nodes only: a CSV cell holding <script> shows as those characters), the roles filled and
// missing, the vote form, comments, and the reviewer workspace.
import {get, post} from './api.js';
import {facts, field, h, replace, safeLink, table} from './dom.js';
import {bytes, duration, stateBadge, time} from './words.js';
import {commentsSection, decisionSection, historySection, loadReview, reviewSection, section} from './parts.js';

function transferId() {
  const path = window.location.pathname;
  return path.slice(path.lastIndexOf('/') + 1);
}

// Flattens the facts object ({"file": {"type": ...}}) into [["file.type", "text/csv"], ...].
function flatten(value, prefix = '', out = []) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.push([prefix, Array.isArray(value) ? JSON.stringify(value) : String(value)]);
  }
  return out;
}

const findingKeys = ['content.nhs_numbers', 'content.postcodes', 'content.dates_of_birth', 'content.emails',
                     'content.phone_numbers', 'scan.result', 'scan.signature', 'file.type', 'file.declared_type',
                     'table.rows', 'table.columns', 'archive.entries'];

function factsSection(factsJson) {
  if (!factsJson) return section('Facts and findings', h('p', {}, 'No facts were recorded.'));
  const all = flatten(factsJson);
  const byKey = new Map(all);
  const findings = findingKeys.filter((key) => byKey.has(key) && byKey.get(key) !== '' && byKey.get(key) !== 'null')
    .map((key) => [key, byKey.get(key)]);
  return section('Facts and findings',
    findings.length ? facts(findings) : null,
    h('details', {},
      h('summary', {}, `All ${all.length} facts the policies read`),
      table('All facts', ['Fact', 'Value'], all, {class: 'facts-table', rowHeaders: true, hideCaption: true})));
}

// The preview, rendered from data with text nodes only (never as HTML).
function previewSection(preview) {
  if (!preview) return section('Preview', h('p', {}, 'No preview is available.'));
  const note = preview.note ? h('p', {class: 'hint'}, preview.note) : null;
  const truncated = preview.truncated ? h('p', {class: 'hint'}, 'Only the beginning of the file is shown.') : null;
  let body;
  if (preview.kind === 'table') {
    const header = preview.header || [];
    const rows = preview.rows || [];
    const width = Math.max(header.length, ...rows.map((row) => row.length), 0);
    const headings = header.length ? header : Array.from({length: width}, (_, i) => `Column ${i + 1}`);
    body = table('Preview of the first rows', headings, rows.map((row) => row.map((cell) => String(cell))),
                 {class: 'preview-table', region: true});
  } else if (preview.kind === 'text') {
    body = h('pre', {class: 'preview-text', tabindex: '0', 'aria-label': 'Preview of the first lines'},
             (preview.lines || []).join('\n'));
  } else if (preview.kind === 'archive') {
    body = table('Entries of the archive', ['Name', 'Size', 'Encrypted'], (preview.entries || []).map((entry) =>
      [entry.name, bytes(entry.size), entry.encrypted ? 'yes' : 'no']), {class: 'preview-table', region: true});
  } else {
    body = h('p', {}, 'This kind of file has no preview.');
  }
  return section('Preview', truncated, h('div', {class: 'preview', id: 'preview'}, body), note);
}

function voteSection(ui, id, review, reload) {
  if (!review.can_vote) {
    return section('Your decision', h('p', {class: 'cannot-vote'},
      review.cannot_vote_because || 'You cannot vote on this case.'));
  }
  const name = 'vote';
  // The gateway says when an approval by this reviewer could not count (their roles are filled by others).
  const approveBlocked = review.can_approve === false;
  const choice = (value, text, hint) => {
    const disabled = value === 'approve' && approveBlocked;
    const input = h('input', {type: 'radio', name, value, id: `vote-${value}`, required: true, disabled,
                              'aria-describedby': disabled ? 'approve-blocked' : null});
    return h('div', {class: 'choice'}, input, h('label', {for: `vote-${value}`}, h('strong', {}, text), ` ${hint}`));
  };
  const comment = h('textarea', {name: 'comment', rows: '3'});
  const visibility = h('select', {name: 'visibility'},
    h('option', {value: 'public'}, 'Public: the requester sees it'),
    h('option', {value: 'private'}, 'Private: reviewers only'));
  const button = h('button', {type: 'submit'}, 'Submit my decision');
  const form = h('form', {class: 'stack vote-form', 'aria-label': 'Vote'},
    h('fieldset', {},
      h('legend', {}, 'Decision'),
      choice('approve', 'Approve', '— the file may be released once the required approvals are in.'),
      choice('reject', 'Reject', '— the file is not released (a comment is required).'),
      choice('return', 'Return for changes', '— the requester may change it and send it again (public comment required).'),
      approveBlocked ? h('p', {class: 'hint', id: 'approve-blocked'},
        `You cannot approve: ${review.cannot_approve_because || 'your approval could not count'}.`) : null),
    field('Comment', comment, 'Required to reject or return. A return\'s comment is always public.'),
    field('Who sees the comment', visibility),
    h('div', {class: 'actions'}, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const selected = form.querySelector('input[name="vote"]:checked');
    if (!selected) {
      ui.status('Choose approve, reject or return first.', 'bad');
      form.querySelector('input[name="vote"]:not(:disabled)').focus();
      return;
    }
    if (selected.value !== 'approve' && !comment.value.trim()) {
      ui.status('A rejection or a return needs a comment.', 'bad');
      comment.focus();
      return;
    }
    button.disabled = true;
    try {
      const body = {vote: selected.value, visibility: selected.value === 'return' ? 'public' : visibility.value};
      if (comment.value.trim()) body.comment = comment.value;
      const answer = await post(`/api/v1/transfers/${id}/votes`, body);
      ui.status(answer.decided ? `Your vote decided the case: ${answer.transfer.state}.` : 'Your vote was recorded.',
                'good');
      await reload();
    } catch (error) {
      button.disabled = false;
      ui.error(error, 'Your vote was not recorded');
    }
  });
  return section('Your decision', form);
}

function workspaceSection(ui, id, review, reload) {
  const workspace = review.reviewer_workspace;
  if (workspace) {
    return section('Reviewer workspace',
      h('p', {}, `Requested by ${workspace.requested_by} `, time(workspace.requested_at), '.'),
      h('p', {}, safeLink(workspace.url, 'Open the reviewer workspace')));
  }
  const open = review.case && review.case.status === 'open';
  const isReviewer = review.transfer.owner !== review.me && (review.can_vote || review.can_comment);
  if (!open || !isReviewer) return null;
  const button = h('button', {type: 'button', class: 'secondary'}, 'Request a reviewer workspace');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await post(`/api/v1/transfers/${id}/reviewer-workspace`);
      ui.status('The reviewer workspace was requested.', 'good');
      await reload();
    } catch (error) {
      button.disabled = false;
      ui.error(error, 'The reviewer workspace was not requested');
    }
  });
  return section('Reviewer workspace',
    h('p', {}, 'A workspace with read access to this file, to look at it with your own tools before deciding.'),
    h('div', {class: 'actions'}, button));
}

function revokeSection(ui, id, review, reload) {
  if (!review.can_revoke) return null;
  const reason = h('textarea', {name: 'reason', rows: '2', required: true});
  const button = h('button', {type: 'submit', class: 'danger'}, 'Revoke');
  const form = h('form', {class: 'stack'}, field('Why it is revoked', reason), h('div', {class: 'actions'}, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!reason.value.trim()) {
      reason.focus();
      return;
    }
    button.disabled = true;
    try {
      await post(`/api/v1/transfers/${id}/revoke`, {reason: reason.value});
      ui.status('The transfer was revoked.', 'good');
      await reload();
    } catch (error) {
      button.disabled = false;
      ui.error(error, 'The transfer was not revoked');
    }
  });
  return section('Revoke the release', h('p', {}, 'Withdraws an approved or released file (governance lead).'), form);
}

export async function render(ui, current) {
  const id = transferId();
  const content = ui.content();
  const reload = async () => {
    const review = await loadReview(id);
    review.me = current.user;
    const transfer = review.transfer;
    ui.title(`Review: ${transfer.filename}`);
    let preview = null;
    try {
      preview = await get(`/api/v1/transfers/${id}/preview`);
    } catch (error) {
      preview = {kind: 'none', note: `The preview could not be read: ${error.message}`};
    }
    const reviewCase = review.case;
    const summary = section('Transfer', facts([
      ['File', transfer.filename],
      ['Requester', transfer.owner],
      ['Workspace', transfer.workspace],
      ['Data source', transfer.datasource],
      ['Size', transfer.length === null ? 'unknown' : bytes(transfer.length)],
      ['State', h('span', {}, stateBadge(transfer.state), transfer.reason ? ` ${transfer.reason}` : '')],
      ['Waiting for', transfer.waiting_for || ''],
      ['Waiting since', reviewCase ? h('span', {}, time(reviewCase.opened_at),
        reviewCase.status === 'open' ? ` (${duration((Date.now() - Date.parse(reviewCase.opened_at)) / 1000)})` : '') : ''],
      ['Requester\'s reason', transfer.justification || ''],
    ]));
    const earlier = (review.rounds || []).filter((round) => !reviewCase || round.id !== reviewCase.id);
    replace(content,
            h('p', {}, h('a', {href: '/ui/reviews'}, '← Back to the queue'), ' · ',
              h('a', {href: `/ui/transfers/${id}`}, 'Transfer page and full history')),
            h('div', {class: 'two-columns'},
              h('div', {class: 'column'},
                summary,
                decisionSection(review.decision, true),
                factsSection(review.facts),
                previewSection(preview)),
              h('div', {class: 'column'},
                reviewSection(reviewCase, 'Roles and approvals'),
                voteSection(ui, id, review, reload),
                commentsSection(ui, id, review, transfer.owner === current.user, reload),
                workspaceSection(ui, id, review, reload),
                revokeSection(ui, id, review, reload),
                earlier.map((round) => reviewSection(round, `Earlier round ${round.round}`)))),
            await historySection(id));
  };
  await reload();
}

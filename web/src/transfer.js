// One transfer, as its requester follows it: state and what it waits for, the decision and its reasons, the
// review (roles filled and missing), comments, resubmission when it was returned, and its history.
import {csrfToken, post} from './api.js';
import {facts, h, replace} from './dom.js';
import {bytes, stateBadge, time} from './words.js';
import {commentsSection, decisionSection, historySection, loadReview, reviewSection, section} from './parts.js';
import {sendWithTus} from './tus-upload.js';

function transferId() {
  const path = window.location.pathname;
  return path.slice(path.lastIndexOf('/') + 1);
}

export async function render(ui, current) {
  const id = transferId();
  const content = ui.content();
  const reload = async () => {
    const review = await loadReview(id);
    const transfer = review.transfer;
    const isRequester = transfer.owner === current.user;
    ui.title(transfer.filename || 'Transfer');
    const summary = section('Summary', facts([
      ['State', h('span', {}, stateBadge(transfer.state), transfer.reason ? ` ${transfer.reason}` : '')],
      ['Waiting for', transfer.waiting_for || ''],
      ['Reviewed by', transfer.reviewed_by || ''],
      ['Requester', transfer.owner],
      ['Workspace', transfer.workspace],
      ['Data source', transfer.datasource],
      ['Project', transfer.project || ''],
      ['Size', transfer.length === null ? 'not known yet' : bytes(transfer.length)],
      ['Received', transfer.length === null ? '' : `${bytes(transfer.offset)}`],
      ['SHA-256', transfer.sha256 ? h('code', {}, transfer.sha256) : ''],
      ['Created', time(transfer.created_at)],
      ['Last change', time(transfer.updated_at)],
    ]));
    const reviewerLink = !isRequester && review.case
      ? h('p', {}, h('a', {href: `/ui/reviews/${id}`, class: 'button secondary'}, 'Open the review case')) : null;
    replace(content,
            reviewerLink,
            summary,
            review.can_resubmit ? resubmitSection(ui, id, transfer, reload) : null,
            decisionSection(review.decision, false),
            reviewSection(review.case),
            commentsSection(ui, id, review, isRequester, reload),
            await historySection(id));
  };
  await reload();
}

// Returned for changes: send the same file again (after answering in a comment), or a new version of it.
function resubmitSection(ui, id, transfer, reload) {
  const same = h('button', {type: 'button'}, 'Send for review again unchanged');
  const fileInput = h('input', {type: 'file', id: 'replacement'});
  const replaceButton = h('button', {type: 'button', class: 'secondary'}, 'Upload the new version');
  const progress = h('progress', {max: '100', value: '0', id: 'replacement-progress'});
  same.addEventListener('click', async () => {
    same.disabled = true;
    try {
      await post(`/api/v1/transfers/${id}/resubmit`, {replace_files: false});
      ui.status('Sent for review again.', 'good');
      await reload();
    } catch (error) {
      same.disabled = false;
      ui.error(error, 'Resubmission failed');
    }
  });
  replaceButton.addEventListener('click', async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) {
      ui.status('Choose the new version of the file first.', 'bad');
      fileInput.focus();
      return;
    }
    replaceButton.disabled = true;
    try {
      await post(`/api/v1/transfers/${id}/resubmit`, {replace_files: true});
      // The gateway reset the upload (offset 0); its length may be known again or deferred.
      const head = await fetch(`/files/${id}`, {method: 'HEAD', credentials: 'same-origin',
                                                headers: {'Tus-Resumable': '1.0.0'}});
      const result = await sendWithTus(file, {
        uploadUrl: `/files/${id}`,
        lengthDeferred: head.headers.get('Upload-Defer-Length') === '1' || !head.headers.get('Upload-Length'),
        metadata: {filename: transfer.filename},
        csrfToken: await csrfToken(),
        onProgress: (sent, total) => { progress.value = total ? Math.floor((sent / total) * 100) : 0; },
      });
      if (result.error || result.denied) throw new Error(result.error || result.message);
      ui.status('The new version was uploaded and judged again.', 'good');
      await reload();
    } catch (error) {
      replaceButton.disabled = false;
      ui.error(error, 'The new version was not sent');
    }
  });
  return section('Returned for changes',
    h('p', {}, 'A reviewer returned this transfer. Read their comment below, then either answer in a comment and ' +
      'send it again unchanged, or upload a corrected version of the file.'),
    h('div', {class: 'actions'}, same),
    h('div', {class: 'field'}, h('label', {for: 'replacement'}, 'New version of the file'), fileInput),
    h('div', {class: 'progress-row'}, h('label', {for: 'replacement-progress'}, 'Upload progress'), progress),
    h('div', {class: 'actions'}, replaceButton));
}


// Sections shared by the transfer page and the case page: the decision with its reasons, the review's roles,
// the comments with their form, and the history (the audit trail).
import {get, post} from './api.js';
import {facts, field, h, replace, table, uniqueId} from './dom.js';
import {caseWord, decisionReasons, effectWord, list, outcomeWord, time, voteWord} from './words.js';

export function section(title, ...children) {
  const id = uniqueId('section');
  return h('section', {'aria-labelledby': id, class: 'card'}, h('h2', {id}, title), ...children);
}

// The decision: its outcome and each reason; for reviewers also the rule and its place in the policies.
export function decisionSection(decision, forReviewer) {
  if (!decision) return section('Decision', h('p', {}, 'Not decided yet.'));
  const reasons = decisionReasons(decision, forReviewer);
  return section(forReviewer ? 'Why it needs review' : 'Decision',
    h('p', {class: 'decision'}, outcomeWord(decision.outcome), decision.reason ? `: ${decision.reason}` : ''),
    reasons.length ? h('ul', {class: 'reasons'}, reasons.map((reason) => h('li', {class: 'reason'},
      h('span', {class: `effect ${reason.effect}`}, `${effectWord(reason.effect)}: `),
      h('span', {class: 'text'}, reason.text),
      reason.where ? h('span', {class: 'where'}, ` — rule ${reason.where}`) : null))) : null,
    forReviewer && decision.reviewers && (decision.reviewers.roles || []).length
      ? h('p', {}, `The policies ask for ${decision.reviewers.approvals} approval${decision.reviewers.approvals === 1 ? '' : 's'} ` +
          `from: ${list(decision.reviewers.roles)}.`) : null);
}

// Roles filled (by whom) and missing, approvals so far, and the votes of the case.
export function reviewSection(reviewCase, title = 'Review') {
  if (!reviewCase) return null;
  const filled = reviewCase.roles_filled || [];
  const missing = reviewCase.roles_missing || [];
  const votes = reviewCase.votes || [];
  return section(title,
    facts([
      ['Status', `${caseWord(reviewCase.status)} (round ${reviewCase.round})`],
      ['Approvals', `${reviewCase.approvals ?? filled.length} of ${reviewCase.approvals_required}`],
      ['Roles required', list(reviewCase.roles || [])],
      ['Roles filled', filled.length ? h('ul', {class: 'plain roles-filled'}, filled.map((entry) =>
        h('li', {}, `${entry.role}: ${entry.user}`))) : 'none yet'],
      ['Roles missing', missing.length ? h('ul', {class: 'plain roles-missing'}, missing.map((role) => h('li', {}, role)))
                                       : 'none'],
      ['Opened', time(reviewCase.opened_at)],
      ['Closed', time(reviewCase.closed_at)],
    ]),
    votes.length ? table('Votes', ['Reviewer', 'Vote', 'As', 'When'], votes.map((vote) =>
      [vote.voter, voteWord(vote.vote), list(vote.roles || []), time(vote.at)]), {rowHeaders: true}) : null);
}

// Comments, oldest first, and the form to add one (public only for the requester).
export function commentsSection(ui, id, review, isRequester, reload) {
  const comments = review.comments || [];
  const items = comments.length
    ? h('ol', {class: 'comments'}, comments.map((comment) => h('li', {class: `comment ${comment.visibility}`},
      h('p', {class: 'meta'}, h('strong', {}, comment.author), comment.by_requester ? ' (requester)' : '',
        ` · round ${comment.round} · `, time(comment.at),
        comment.visibility === 'private' ? h('span', {class: 'badge neutral'}, 'private: reviewers only') : null),
      h('p', {class: 'comment-text'}, comment.text))))
    : h('p', {}, 'No comments yet.');
  let form = null;
  if (review.can_comment) {
    const text = h('textarea', {name: 'text', rows: '3', required: true});
    const visibility = isRequester ? null : h('select', {name: 'visibility'},
      h('option', {value: 'public'}, 'Public: the requester sees it'),
      h('option', {value: 'private'}, 'Private: reviewers only'));
    const button = h('button', {type: 'submit', class: 'secondary'}, 'Add comment');
    form = h('form', {class: 'stack'}, field('New comment', text), visibility ? field('Who sees it', visibility) : null,
             h('div', {class: 'actions'}, button));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!text.value.trim()) {
        ui.status('Write a comment first.', 'bad');
        text.focus();
        return;
      }
      button.disabled = true;
      try {
        await post(`/api/v1/transfers/${id}/comments`, {text: text.value, visibility: visibility ? visibility.value : 'public'});
        ui.status('Comment added.', 'good');
        await reload();
      } catch (error) {
        button.disabled = false;
        ui.error(error, 'The comment was not added');
      }
    });
  }
  return section('Comments', items, form);
}

function detailText(detail) {
  if (!detail || typeof detail !== 'object') return detail ? String(detail) : '';
  const parts = [];
  if (detail.reason) parts.push(String(detail.reason));
  if (detail.vote) parts.push(`vote: ${voteWord(detail.vote)}`);
  if (detail.comment && detail.comment.text) parts.push(`comment (${detail.comment.visibility}): ${detail.comment.text}`);
  if (detail.approvers) parts.push(`approvers: ${list([].concat(detail.approvers))}`);
  if (detail.round) parts.push(`round ${detail.round}`);
  if (parts.length === 0) {
    // Anything else: its non-empty scalar fields as "key: value".
    for (const [key, value] of Object.entries(detail)) {
      if (value === null || value === '' || typeof value === 'object') continue;
      parts.push(`${key.replace(/_/g, ' ')}: ${value}`);
    }
  }
  const text = parts.join('; ');
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

// The transfer's audit trail.
export async function historySection(id) {
  let events;
  try {
    events = (await get(`/api/v1/transfers/${id}/history`)).events || [];
  } catch (error) {
    return section('History', h('p', {}, `The history could not be read: ${error.message}`));
  }
  if (events.length === 0) return section('History', h('p', {}, 'No events.'));
  return section('History', table('History', ['When', 'Who', 'What', 'Details'], events.map((event) => [
    time(event.at), event.actor || '',
    event.from && event.to && event.from !== event.to ? `${event.action}: ${event.from} → ${event.to}` : event.action,
    detailText(event.detail),
  ]), {class: 'history', hideCaption: true, region: true}));
}

// Reads /review, falling back on the plain transfer when the review API answers nothing useful.
export async function loadReview(id) {
  return get(`/api/v1/transfers/${id}/review`);
}

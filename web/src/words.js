// Plain words for states, outcomes, sizes and times.
import {h} from './dom.js';

const stateWords = {
  created: 'Created (no bytes received yet)',
  receiving: 'Uploading',
  inspecting: 'Being inspected',
  decided: 'Decided',
  approved: 'Approved',
  released: 'Released',
  materialised: 'Available in the workspace',
  denied: 'Refused',
  escalated: 'Waiting for review',
  in_review: 'In review',
  rejected: 'Rejected in review',
  returned: 'Returned for changes',
  revoked: 'Revoked',
  failed: 'Failed',
};

const stateTone = {
  released: 'good', materialised: 'good', approved: 'good',
  denied: 'bad', rejected: 'bad', revoked: 'bad', failed: 'bad',
  escalated: 'wait', in_review: 'wait', returned: 'warn',
};

export function stateWord(state) {
  return stateWords[state] || String(state || 'unknown');
}

// A badge: text, not colour alone, says the state.
export function stateBadge(state) {
  return h('span', {class: `badge ${stateTone[state] || 'neutral'}`, dataset: {state: state || ''}}, stateWord(state));
}

const caseWords = {
  open: 'Open', approved: 'Approved', rejected: 'Rejected', returned: 'Returned for changes', cancelled: 'Cancelled',
};
export function caseWord(status) {
  return caseWords[status] || String(status || '');
}

export function outcomeWord(outcome) {
  if (outcome === 'approve') return 'Approved by the policies';
  if (outcome === 'deny') return 'Refused by the policies';
  if (outcome === 'escalate') return 'Sent to reviewers by the policies';
  return 'Not decided yet';
}

export function voteWord(vote) {
  return {approve: 'Approved', reject: 'Rejected', return: 'Returned for changes'}[vote] || String(vote || '');
}

export function bytes(count) {
  if (count === null || count === undefined) return 'unknown size';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(count);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} days ${Math.floor((s % 86400) / 3600)} h`;
}

// A <time> element with the local date and time, the RFC 3339 text as its datetime.
export function time(text) {
  if (!text) return '';
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return String(text);
  return h('time', {datetime: text}, date.toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'}));
}

export function list(items) {
  return items.filter(Boolean).join(', ');
}

// The reasons of a decision, as the requester and reviewers read them: the matched rules' reasons, each with
// its rule and place in the policies (for reviewers), else the summary.
export function decisionReasons(decision, withLocations) {
  if (!decision) return [];
  const rules = Array.isArray(decision.rules) ? decision.rules : [];
  const out = rules.map((rule) => ({
    effect: rule.effect || '',
    text: rule.reason || `${rule.policy}.${rule.rule}`,
    where: withLocations ? `${rule.policy}.${rule.rule}${rule.location ? ` (${rule.location})` : ''}` : '',
  }));
  for (const error of Array.isArray(decision.errors) ? decision.errors : []) {
    out.push({effect: 'error', text: `error: ${error.message}`,
              where: withLocations ? `${error.policy}.${error.rule}${error.location ? ` (${error.location})` : ''}` : ''});
  }
  if (out.length === 0 && decision.reason) out.push({effect: decision.outcome || '', text: decision.reason, where: ''});
  return out;
}

const effectWords = {deny: 'Refuses', escalate: 'Needs review', approve: 'Allows', error: 'Error'};
export function effectWord(effect) {
  return effectWords[effect] || effect;
}

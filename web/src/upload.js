// Upload page: choose or drop files, say which workspace and data source they are for, and send each with
// tus (resumable: an interrupted upload continues from the bytes the gateway stored). Each file gets a
// progress bar, then the decision and its reasons in plain words.
import {csrfToken, get} from './api.js';
import {field, h, replace} from './dom.js';
import {bytes, decisionReasons, effectWord, stateBadge} from './words.js';
import {sendWithTus, transferIdOf} from './tus-upload.js';

const remembered = (key) => window.localStorage.getItem(`airlock.${key}`) || '';
const remember = (key, value) => window.localStorage.setItem(`airlock.${key}`, value);
const namePattern = '[A-Za-z0-9][A-Za-z0-9._\\-]{0,62}';

export async function render(ui) {
  const content = ui.content();
  const chosen = [];

  const fileInput = h('input', {type: 'file', multiple: true, name: 'files', id: 'files'});
  const chosenList = h('ul', {class: 'chosen', 'aria-live': 'polite'});
  const dropZone = h('div', {class: 'drop-zone'},
                     h('label', {for: 'files'}, 'Choose files, or drop them here:'),
                     fileInput);
  const workspace = h('input', {type: 'text', name: 'workspace', required: true, pattern: namePattern,
                                autocomplete: 'off', value: remembered('workspace')});
  const datasource = h('input', {type: 'text', name: 'datasource', required: true, pattern: namePattern,
                                 autocomplete: 'off', value: remembered('datasource')});
  const project = h('input', {type: 'text', name: 'project', autocomplete: 'off'});
  const justification = h('textarea', {name: 'justification', rows: '2'});
  const uploadButton = h('button', {type: 'submit', id: 'upload-button'}, 'Upload');
  const results = h('ol', {class: 'uploads', 'aria-label': 'Uploads'});

  function showChosen() {
    replace(chosenList, chosen.map((file, index) => h('li', {},
      h('span', {class: 'name'}, file.name), ` (${bytes(file.size)}) `,
      h('button', {type: 'button', class: 'link', 'aria-label': `Remove ${file.name}`,
                   on: {click: () => { chosen.splice(index, 1); showChosen(); }}}, 'Remove'))));
    uploadButton.textContent = chosen.length > 1 ? `Upload ${chosen.length} files` : 'Upload';
  }
  function add(files) {
    for (const file of files) chosen.push(file);
    showChosen();
  }
  fileInput.addEventListener('change', () => {
    add(fileInput.files);
    fileInput.value = '';
  });
  for (const name of ['dragenter', 'dragover']) {
    dropZone.addEventListener(name, (event) => {
      event.preventDefault();
      dropZone.classList.add('over');
    });
  }
  for (const name of ['dragleave', 'drop']) dropZone.addEventListener(name, () => dropZone.classList.remove('over'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files) add(event.dataTransfer.files);
  });

  const form = h('form', {class: 'stack', novalidate: false},
    h('fieldset', {},
      h('legend', {}, 'Files'),
      dropZone,
      chosenList),
    h('div', {class: 'columns'},
      field('Workspace', workspace, 'The workspace the files are for, for example ws-diabetes-audit.'),
      field('Data source', datasource, 'The data source whose area receives the files once released.')),
    h('div', {class: 'columns'},
      field('Project (optional)', project),
      field('Why these files are needed (optional)', justification)),
    h('div', {class: 'actions'}, uploadButton));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (chosen.length === 0) {
      ui.status('Choose at least one file first.', 'bad');
      fileInput.focus();
      return;
    }
    if (!form.reportValidity()) return;
    remember('workspace', workspace.value);
    remember('datasource', datasource.value);
    const files = chosen.splice(0, chosen.length);
    showChosen();
    ui.status(`Uploading ${files.length} file${files.length > 1 ? 's' : ''}…`);
    const metadata = {workspace: workspace.value.trim(), datasource: datasource.value.trim(),
                      project: project.value.trim(), justification: justification.value.trim()};
    const token = await csrfToken();
    await Promise.all(files.map((file) => uploadOne(file, metadata, token, results)));
    ui.status('All uploads have finished. Their decisions are below.', 'good');
  });

  replace(content,
          h('p', {class: 'lead'}, 'Files you upload are inspected and judged by the policies. Small, clean files are ' +
            'released at once; others wait for reviewers, and you can follow them under My transfers.'),
          form,
          h('section', {'aria-labelledby': 'uploads-heading'},
            h('h2', {id: 'uploads-heading'}, 'This session\'s uploads'),
            results));
}

async function uploadOne(file, metadata, token, results) {
  const progress = h('progress', {max: '100', value: '0'});
  const percent = h('span', {class: 'percent'}, '0%');
  const state = h('p', {class: 'upload-state'}, 'Starting…');
  const outcome = h('div', {class: 'outcome'});
  const progressId = `progress-${Math.random().toString(36).slice(2)}`;
  progress.id = progressId;
  const item = h('li', {class: 'upload', dataset: {file: file.name}},
    h('h3', {}, file.name, h('span', {class: 'size'}, ` ${bytes(file.size)}`)),
    h('div', {class: 'progress-row'}, h('label', {for: progressId}, `Upload progress of ${file.name}`), progress, percent),
    state, outcome);
  results.prepend(item);

  const result = await sendWithTus(file, {
    metadata: {...metadata, filename: file.name, filetype: file.type || 'application/octet-stream'},
    csrfToken: token,
    onProgress(sent, total) {
      const value = total ? Math.floor((sent / total) * 100) : 0;
      progress.value = value;
      percent.textContent = `${value}%`;
      state.textContent = `Sending: ${bytes(sent)} of ${bytes(total)}`;
    },
    onResume() {
      state.textContent = 'Resuming an earlier, interrupted upload of this file';
    },
  });
  if (result.denied) {
    state.textContent = 'Refused before the upload finished.';
    replace(outcome, stateBadge('denied'), h('p', {class: 'reason'}, result.message));
    if (result.url) outcome.append(h('p', {}, h('a', {href: `/ui/transfers/${transferIdOf(result.url)}`}, 'See the transfer')));
    return;
  }
  if (result.error) {
    state.textContent = 'The upload stopped.';
    replace(outcome, h('p', {class: 'notice bad'}, result.error),
            h('p', {}, 'Choose the same file again to resume from where it stopped.'));
    return;
  }
  progress.value = 100;
  percent.textContent = '100%';
  state.textContent = 'Uploaded. Waiting for the decision…';
  const id = transferIdOf(result.url);
  await showDecision(id, state, outcome);
}

// The transfer after its last byte: its state, the decision's reasons, and what it waits for.
async function showDecision(id, state, outcome) {
  let transfer = null;
  for (let attempt = 0; attempt < 30; attempt += 1) {
    try {
      transfer = await get(`/api/v1/transfers/${id}`);
    } catch (error) {
      state.textContent = `The decision could not be read: ${error.message}`;
      return;
    }
    if (!['created', 'receiving', 'inspecting', 'decided', 'approved', 'escalated'].includes(transfer.state)) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  state.textContent = 'Uploaded.';
  const reasons = decisionReasons(transfer.decision, false);
  replace(outcome,
          h('p', {class: 'decision'}, stateBadge(transfer.state), ' ', transfer.reason || ''),
          reasons.length ? h('ul', {class: 'reasons'}, reasons.map((reason) =>
            h('li', {}, h('span', {class: `effect ${reason.effect}`}, `${effectWord(reason.effect)}: `), reason.text))) : null,
          transfer.waiting_for ? h('p', {class: 'waiting'}, `Waiting for: ${transfer.waiting_for}`) : null,
          h('p', {}, h('a', {href: `/ui/transfers/${id}`}, `Details and history of ${transfer.filename}`)));
}

// Building the page from data without ever parsing data as HTML: every piece of text becomes a Text node
// (textContent), every attribute is set by name. No innerHTML, no insertAdjacentHTML, no document.write.

// h('a', {href: '/ui/', class: 'x'}, 'text', child, [more]) -> an element. Attributes whose value is null,
// undefined or false are left out; true gives an empty attribute. `on: {click: fn}` adds listeners.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'on') {
      for (const [event, listener] of Object.entries(value)) element.addEventListener(event, listener);
    } else if (name === 'dataset') {
      for (const [key, data] of Object.entries(value)) element.dataset[key] = String(data);
    } else if (name === 'value' && 'value' in element) {
      element.value = String(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

// Appends strings (as text), numbers, nodes and nested arrays; skips null, undefined and false.
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child instanceof Node) {
      parent.appendChild(child);
    } else {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }
  return parent;
}

export function clear(element) {
  while (element.firstChild) element.removeChild(element.firstChild);
  return element;
}

export function replace(element, ...children) {
  return append(clear(element), children);
}

// A link only to a URL of an allowed scheme (http, https) or a path of this site; anything else (javascript:,
// data:) is shown as text.
export function safeLink(url, text) {
  let parsed;
  try {
    parsed = new URL(url, window.location.origin);
  } catch {
    return h('span', {}, text || String(url));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return h('span', {}, text || String(url));
  const external = parsed.origin !== window.location.origin;
  return h('a', {href: parsed.href, rel: external ? 'noopener noreferrer' : null, target: external ? '_blank' : null},
           text || parsed.href);
}

let idCounter = 0;
export function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// <label for=id>text</label> + control, wrapped in a div.field. The control gets the id.
export function field(labelText, control, hint) {
  const id = control.id || uniqueId('field');
  control.id = id;
  let hintNode = null;
  if (hint) {
    const hintId = `${id}-hint`;
    hintNode = h('p', {class: 'hint', id: hintId}, hint);
    control.setAttribute('aria-describedby', hintId);
  }
  return h('div', {class: 'field'}, h('label', {for: id}, labelText), hintNode, control);
}

// A definition list from [term, description] pairs; descriptions may be nodes. Empty ones are skipped.
export function facts(pairs) {
  const list = h('dl', {class: 'facts'});
  for (const [term, description] of pairs) {
    if (description === null || description === undefined || description === '') continue;
    append(list, [h('dt', {}, term), h('dd', {}, description)]);
  }
  return list;
}

// A table with a caption, column headings and rows of cells (strings or nodes).
export function table(caption, headings, rows, options = {}) {
  return h('div', {class: 'table-wrap', role: options.region ? 'region' : null,
                   'aria-label': options.region ? caption : null, tabindex: options.region ? '0' : null},
           h('table', {class: options.class || null},
             h('caption', {class: options.hideCaption ? 'visually-hidden' : null}, caption),
             h('thead', {}, h('tr', {}, headings.map((text) => h('th', {scope: 'col'}, text)))),
             h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) =>
               i === 0 && options.rowHeaders ? h('th', {scope: 'row'}, cell) : h('td', {}, cell)))))));
}

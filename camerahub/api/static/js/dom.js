// Building DOM without innerHTML: every piece of data goes in as text, never as markup.

/** An element: h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'value' || key === 'checked' || key === 'muted') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Append children (nodes or text; nested arrays flattened; null skipped). */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;

/** A labelled form field: returns {row, input}. */
export function field(label, input, hint) {
  if (!input.id) input.id = `f${++uid}`;
  const row = h('div', {class: 'field'},
    h('label', {for: input.id}, label), input, hint ? h('small', {class: 'hint'}, hint) : null);
  return {row, input};
}

/** A table from column headers and rows of cells (text or nodes). */
export function table(headers, rows, caption) {
  return h('table', {class: 'data'},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c ?? '')))))
  );
}

/** Save a Blob under a file name (object URL, revoked afterwards). */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', {href: url, download: name, hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

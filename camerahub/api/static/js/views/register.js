// The monthly viewing register for auditors: shown on screen, downloaded as CSV or PDF.

import {getJson, request} from '../api.js';
import {download, field, h, replace, table} from '../dom.js';
import {t, tv, lang} from '../i18n.js';

/** The previous calendar month in Tokyo, as YYYY-MM (the month a review usually covers). */
function lastMonth() {
  const tokyo = new Date(Date.now() + 9 * 3600 * 1000);
  const y = tokyo.getUTCFullYear();
  const m = tokyo.getUTCMonth(); // 0-based: the previous month's number
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, '0')}`;
}

function range(a) {
  return a.end && a.end !== a.start ? `${a.start} – ${a.end}` : a.start;
}

function outcome(text, count) {
  const [decision, status = ''] = text.split(' ');
  const label = `${tv('decision', decision)} ${status}`.trim();
  return count > 1 ? `${label} ×${count}` : label;
}

function person(a) {
  return a.person_name ? h('span', {}, a.person_name, h('br'), h('small', {}, a.person)) : a.person;
}

function siteTable(section) {
  const name = section.site ? `${section.name} (${section.site})` : t('registerUnknownSite');
  return h('section', {class: 'register-site'},
    h('h3', {}, `${t('registerColSite')}: ${name}`, ' ',
      h('small', {}, t('registerAccessCount', {n: section.accesses.length}))),
    table([t('registerColSeq'), t('registerColAt'), t('registerColPerson'), t('registerColRole'),
      t('registerColAction'), t('registerColCamera'), t('registerColRoom'), t('registerColRange'),
      t('registerColPurpose'), t('registerColOutcome')],
    section.accesses.map((a) => [String(a.seq), h('span', {class: 'nowrap'}, a.at), person(a),
      tv('role', a.role), a.what ? `${tv('act', a.action)} (${tv('registerWhat', a.what)})`
        : tv('act', a.action), a.camera, a.room, range(a), a.purpose,
      outcome(a.outcome, a.count)])));
}

function showRegister(data) {
  const chain = data.chain.ok
    ? h('p', {class: 'notice', id: 'register-chain'}, t('registerChainOk', {n: data.chain.entries}))
    : h('p', {class: 'error', id: 'register-chain', role: 'alert'},
      t('registerChainBad', {problem: data.chain.problem}));
  const sites = data.sites.length ? data.sites.map(siteTable) : [h('p', {}, t('none'))];
  const disposals = data.disposals.length ? table([t('registerColSeq'), t('registerColDeletedAt'),
    t('registerColSite'), t('registerColCamera'), t('registerColDay'), t('registerColRange'),
    t('registerColSegments'), t('registerColBytes'), t('registerColWhy')],
  data.disposals.map((d) => [String(d.seq), d.at, d.site, d.camera, d.day, range(d),
    String(d.segments), d.bytes.toLocaleString(lang() === 'ja' ? 'ja-JP' : 'en-US'), d.why]))
    : h('p', {}, t('none'));
  const holds = data.holds.length ? table([t('registerColSeq'), t('registerColAt'),
    t('registerColChange'), t('registerColBy'), t('registerColIncident'), t('registerColCamera'),
    t('registerColRange'), t('registerColNote')],
  data.holds.map((x) => [String(x.seq), x.at,
    x.op === 'release' ? t('registerRelease') : t('registerPlace'), x.person, x.incident,
    x.cameras, x.start ? range(x) : '', x.note]))
    : h('p', {}, t('none'));
  return [chain, h('p', {class: 'muted'}, t('registerTimes')),
    h('h2', {}, t('registerAccesses')), ...sites,
    h('h2', {}, t('registerDisposals')), h('div', {id: 'register-disposals'}, disposals),
    h('h2', {}, t('registerHolds')), h('div', {id: 'register-holds'}, holds)];
}

export function render(view, {notify}) {
  const month = field(t('registerMonth'), h('input', {type: 'month', name: 'month',
    value: lastMonth(), required: true}));
  const allSites = h('option', {value: ''}, t('registerAllSites'));
  const site = field(t('registerSite'), h('select', {name: 'site'}, allSites));
  const result = h('div', {id: 'register-result'});

  const params = () => {
    const p = {month: month.input.value};
    if (site.input.value) p.site = site.input.value;
    return p;
  };
  const valid = () => {
    if (/^\d{4}-\d{2}$/.test(month.input.value)) return true;
    notify(t('registerMonthInvalid'));
    return false;
  };

  async function show() {
    if (!valid()) return;
    try {
      const data = await getJson('/register/viewing', {params: params()});
      if (!site.input.value) { // offer the sites of this month's register
        replace(site.input, allSites, data.sites.filter((s) => s.site)
          .map((s) => h('option', {value: s.site}, s.name || s.site)));
      }
      notify('');
      replace(result, ...showRegister(data));
    } catch (err) {
      notify(err.message);
    }
  }

  async function file(format) {
    if (!valid()) return;
    try {
      const p = params();
      const resp = await request('/register/viewing', {params: {...p, format, lang: lang()}});
      const name = `viewing-register-${p.month}${p.site ? `-${p.site}` : ''}.${format}`;
      download(await resp.blob(), name);
    } catch (err) {
      notify(err.message);
    }
  }

  const form = h('form', {novalidate: true, class: 'card', id: 'register-form',
    'aria-label': t('registerTitle')},
  h('div', {class: 'row'}, month.row, site.row),
  h('div', {class: 'toolbar'}, h('button', {type: 'submit', id: 'register-show'}, t('registerShow')),
    h('button', {type: 'button', class: 'secondary', id: 'register-csv',
      onclick: () => file('csv')}, t('registerCsv')),
    h('button', {type: 'button', class: 'secondary', id: 'register-pdf',
      onclick: () => file('pdf')}, t('registerPdf'))));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    show();
  });
  replace(view, h('h1', {}, t('registerTitle')), h('p', {class: 'muted'}, t('registerIntro')),
    form, result);
  show();
}

// Past footage: a camera and a Tokyo time range, the recordings timeline, clip.mp4 playback.

import {getJson, mediaUrl} from '../api.js';
import {field, h, replace, table} from '../dom.js';
import {lang, t, tv} from '../i18n.js';
import {showTime, tokyoInputToUtc, utcToTokyoInput} from '../time.js';

const MIN_REASON = 4;

function defaultRange(params) {
  const end = params.get('end') ? new Date(params.get('end')) : new Date();
  const start = params.get('start') ? new Date(params.get('start'))
    : new Date(end.getTime() - 3600 * 1000);
  return [utcToTokyoInput(start), utcToTokyoInput(end)];
}

function span(parent, startMs, endMs, from, to, cls, title) {
  const total = endMs - startMs;
  const left = Math.max(0, (from - startMs) / total) * 100;
  const right = Math.min(1, (to - startMs) / total) * 100;
  const el = h('div', {class: `span ${cls}`, title});
  el.style.left = `${left}%`;
  el.style.width = `${Math.max(0.2, right - left)}%`;
  parent.append(el);
}

/** A bar over the range: recorded segments, held ones marked, gaps with their cause. */
function timelineBar(line) {
  const startMs = Date.parse(line.start);
  const endMs = Date.parse(line.end);
  const bar = h('div', {class: 'timeline', role: 'img', 'aria-label': t('segmentCount',
    {n: line.segments.length, g: line.gaps.length})});
  for (const seg of line.segments) {
    span(bar, startMs, endMs, Date.parse(seg.start), Date.parse(seg.end),
      seg.held ? 'seg held' : 'seg', `${showTime(seg.start, lang())} – ${showTime(seg.end, lang())}`);
  }
  for (const gap of line.gaps) {
    span(bar, startMs, endMs, Date.parse(gap.start), Date.parse(gap.end), 'gap',
      `${tv('cause', gap.cause)}: ${showTime(gap.start, lang())} – ${showTime(gap.end, lang())}`);
  }
  const scale = h('div', {class: 'scale'}, h('span', {}, showTime(line.start, lang())),
    h('span', {}, showTime(line.end, lang())));
  const legend = h('div', {class: 'legend'},
    h('span', {class: 'key seg'}, t('segments')), h('span', {class: 'key held'}, t('held')),
    h('span', {class: 'key gap'}, t('gaps')));
  return h('div', {}, bar, scale, legend);
}

function gapTable(line) {
  if (!line.gaps.length) return null;
  return table([t('start'), t('end'), t('gapCause')], line.gaps.map((g) => [
    showTime(g.start, lang()), showTime(g.end, lang()),
    tv('cause', g.cause) + (g.detail ? ` (${g.detail})` : '')]), t('gaps'));
}

export function render(view, {session, params, notify}) {
  const cams = session.cameras.filter((c) => c.actions.includes('playback'));
  const manager = ['department-head', 'division-manager'].includes(session.me.role);
  const [from0, to0] = defaultRange(params);
  const camera = field(t('camera'), h('select', {name: 'camera', required: true},
    cams.map((c) => h('option', {value: c.id, selected: c.id === params.get('camera')},
      `${c.name} (${c.id})`))));
  const from = field(t('from'), h('input', {type: 'datetime-local', name: 'start',
    value: from0, required: true, step: 1}));
  const to = field(t('to'), h('input', {type: 'datetime-local', name: 'end', value: to0,
    required: true, step: 1}));
  const reason = manager ? field(t('reason'), h('input', {name: 'reason', required: true,
    minlength: MIN_REASON, maxlength: 2000, value: params.get('reason') || ''}), t('reasonHint'))
    : null;
  const find = h('button', {type: 'submit', id: 'find'}, t('showTimeline'));
  const result = h('section', {class: 'card', 'aria-live': 'polite', hidden: true});
  const video = h('video', {controls: true, id: 'player', 'aria-label': t('playbackTitle')});
  video.addEventListener('error', () => {
    if (video.getAttribute('src')) notify(t('videoError'));
  });

  function query() {
    const start = tokyoInputToUtc(from.input.value);
    const end = tokyoInputToUtc(to.input.value);
    if (!start || !end || end <= start) throw new Error(t('rangeInvalid'));
    const why = reason ? reason.input.value.trim() : '';
    if (reason && why.length < MIN_REASON) throw new Error(t('reasonRequired'));
    return {start, end, reason: why || null};
  }

  async function play(id, q) {
    video.src = await mediaUrl(id, 'clip.mp4', q);
    video.play().catch(() => {});
  }

  async function search(event) {
    event?.preventDefault();
    notify('');
    let q;
    try {
      q = query();
    } catch (err) {
      notify(err.message);
      return;
    }
    const id = camera.input.value;
    find.disabled = true;
    try {
      const line = await getJson(`/cameras/${encodeURIComponent(id)}/recordings`, {params: q});
      const playButton = h('button', {type: 'button', id: 'play',
        disabled: !line.segments.length}, t('play'));
      playButton.addEventListener('click', () => play(id, q).catch((err) => notify(err.message)));
      replace(result, h('h2', {}, t('timeline')),
        h('p', {}, t('segmentCount', {n: line.segments.length, g: line.gaps.length})),
        line.segments.length ? null : h('p', {}, t('noFootage')),
        timelineBar(line), gapTable(line), h('div', {class: 'toolbar'}, playButton), video);
      result.hidden = false;
    } catch (err) {
      notify(err.message);
    } finally {
      find.disabled = false;
    }
  }

  const form = h('form', {novalidate: true, class: 'card', id: 'playback-form'},
    h('div', {class: 'row'}, camera.row, from.row, to.row), reason?.row, find);
  form.addEventListener('submit', search);
  replace(view, h('h1', {}, t('playbackTitle')), form, result);
  if (params.get('camera') && params.get('start') && (!manager || params.get('reason'))) search();
  return () => {
    video.removeAttribute('src');
    video.load();
  };
}

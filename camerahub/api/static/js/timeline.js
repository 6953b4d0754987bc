// A scrubbable timeline of one camera: spans by kind from GET /timeline, Tokyo hour and
// minute ticks, incident and hold markers, click/drag to seek, thumbnails on hover.

import {request, getJson} from './api.js';
import {h, replace} from './dom.js';
import {lang, t, tv} from './i18n.js';
import {clockTime, showTime} from './time.js';

export const ZOOMS = [
  {key: 'day', ms: 24 * 3600e3, tick: 3600e3, label: 3 * 3600e3},
  {key: 'hour', ms: 3600e3, tick: 5 * 60e3, label: 10 * 60e3},
  {key: 'ten', ms: 10 * 60e3, tick: 60e3, label: 60e3},
];
const TOKYO_MS = 9 * 3600e3;
const THUMB_STEP = 2000; // hover thumbnails are asked for on a 2 s grid (and cached)
const CLASSES = {recorded: 'seg', gap: 'gap', not_recorded: 'none', beyond_retention: 'expired'};

/** The start of the window of `zoom` that holds `ms` (Tokyo midnight for 24 hours). */
export function windowStart(ms, zoom) {
  if (zoom.key === 'day') return Math.floor((ms + TOKYO_MS) / zoom.ms) * zoom.ms - TOKYO_MS;
  return Math.floor(ms / zoom.ms) * zoom.ms;
}

function spanTitle(s) {
  const what = s.kind === 'gap' ? `${t('kind_gap')}: ${tv('cause', s.cause)}`
    : s.kind === 'not_recorded' ? tv('why', s.cause) : tv('kind', s.kind);
  return `${what}: ${showTime(s.start, lang())} – ${showTime(s.end, lang())}`;
}

/**
 * The timeline widget. opts: camera, reason() (the stated reason, or null), onSeek(ms),
 * notify(message), range ([start, end] ms: a fixed window instead of zoom windows). Returns {el, show(ms, zoom), playhead(ms), spans, dispose()}.
 */
export function createTimeline(opts) {
  const bar = h('div', {class: 'timeline scrub', id: 'timeline', role: 'slider', tabindex: 0,
    'aria-label': t('seekHint'), title: t('seekHint')});
  const marks = h('div', {class: 'marks'});
  const ticks = h('div', {class: 'ticks', 'aria-hidden': 'true'});
  const head = h('div', {class: 'playhead', hidden: true});
  const hover = h('div', {class: 'hover-card', hidden: true},
    h('img', {alt: '', width: 160, height: 90}), h('span', {}));
  const caption = h('p', {class: 'window-caption'});
  const legend = h('div', {class: 'legend'},
    ['recorded', 'gap', 'not_recorded', 'beyond_retention', 'held', 'incident'].map((k) =>
      h('span', {class: `key ${CLASSES[k] || k}`}, tv('kind', k))));
  const wrap = h('div', {class: 'timeline-wrap'}, caption, marks, h('div', {class: 'bar-holder'},
    bar, head, hover), ticks, legend);
  const state = {start: 0, end: 0, zoom: ZOOMS[0], spans: [], overlays: [], token: 0};
  const thumbs = new Map();
  let hoverTimer = null;

  const pct = (ms) => ((ms - state.start) / (state.end - state.start)) * 100;
  const timeAt = (clientX) => {
    const r = bar.getBoundingClientRect();
    const x = Math.min(Math.max(clientX - r.left, 0), r.width);
    return state.start + (x / r.width) * (state.end - state.start);
  };

  function place(el, from, to) {
    const left = Math.max(0, pct(from));
    const right = Math.min(100, pct(to));
    el.style.left = `${left}%`;
    el.style.width = `${Math.max(0.15, right - left)}%`;
    return el;
  }

  function drawTicks() {
    const z = state.zoom;
    const items = [];
    for (let ms = Math.ceil(state.start / z.tick) * z.tick; ms <= state.end; ms += z.tick) {
      const major = (ms + TOKYO_MS) % z.label === 0;
      const tick = h('span', {class: major ? 'tick major' : 'tick'},
        major ? clockTime(ms) : '');
      tick.style.left = `${pct(ms)}%`;
      items.push(tick);
    }
    replace(ticks, items);
  }

  function draw() {
    replace(bar, state.spans.map((s) => place(h('div', {
      class: `span ${CLASSES[s.kind] || s.kind}`, 'data-kind': s.kind,
      'data-cause': s.cause || '', title: spanTitle(s)}),
    Date.parse(s.start), Date.parse(s.end))));
    replace(marks, state.overlays.map((o) => {
      const el = place(h('a', {class: `mark ${o.kind}`, title: spanTitle(o)}),
        Date.parse(o.start), Date.parse(o.end));
      if (o.kind === 'incident') el.href = `#/incidents/${o.incident_id}`;
      return el;
    }));
    drawTicks();
    caption.textContent = `${showTime(new Date(state.start), lang(), false)} – ${
      showTime(new Date(state.end), lang(), false)}`;
  }

  async function show(ms, zoom = state.zoom) {
    state.zoom = zoom;
    if (opts.range) { // a fixed window (an incident's grant): never beyond it
      [state.start, state.end] = opts.range;
      const span = state.end - state.start;
      state.zoom = span > ZOOMS[1].ms ? ZOOMS[0] : span > ZOOMS[2].ms ? ZOOMS[1] : ZOOMS[2];
    } else {
      state.start = windowStart(ms, zoom);
      state.end = state.start + zoom.ms;
    }
    const token = ++state.token;
    const width = Math.max(200, bar.getBoundingClientRect().width || 1000);
    const params = {start: new Date(state.start).toISOString(),
      end: new Date(state.end).toISOString(), reason: opts.reason(),
      resolution: Math.max(0.001, zoom.ms / width / 1000).toFixed(3)};
    const body = await getJson(`/cameras/${encodeURIComponent(opts.camera)}/timeline`,
      {params});
    if (token !== state.token) return;
    state.spans = body.spans;
    state.overlays = body.overlays;
    draw();
    wrap.dispatchEvent(new CustomEvent('timeline', {detail: body}));
  }

  function playhead(ms) {
    if (ms === null || ms < state.start || ms > state.end) {
      head.hidden = true;
      return;
    }
    head.hidden = false;
    head.style.left = `${pct(ms)}%`;
    bar.setAttribute('aria-valuetext', showTime(new Date(ms), lang()));
  }

  /** The recorded span holding ms, or the first one after it in the window. */
  function recordedFrom(ms) {
    for (const s of state.spans) {
      if (s.kind !== 'recorded') continue;
      if (Date.parse(s.end) > ms) return Math.max(ms, Date.parse(s.start));
    }
    return null;
  }

  async function thumbnail(ms) {
    const at = Math.floor(ms / THUMB_STEP) * THUMB_STEP;
    const inside = state.spans.some((s) => s.kind === 'recorded'
      && Date.parse(s.start) <= at && Date.parse(s.end) > at);
    const img = hover.querySelector('img');
    if (!inside) {
      img.hidden = true;
      return;
    }
    if (!thumbs.has(at)) {
      try {
        const resp = await request(`/cameras/${encodeURIComponent(opts.camera)}/thumbnail.jpg`,
          {params: {at: new Date(at).toISOString(), reason: opts.reason()}});
        thumbs.set(at, URL.createObjectURL(await resp.blob()));
        if (thumbs.size > 200) {
          const [first, url] = thumbs.entries().next().value;
          URL.revokeObjectURL(url);
          thumbs.delete(first);
        }
      } catch {
        img.hidden = true;
        return;
      }
    }
    img.src = thumbs.get(at);
    img.hidden = false;
  }

  let dragging = false;
  bar.addEventListener('pointerdown', (e) => {
    dragging = true;
    bar.setPointerCapture?.(e.pointerId);
    playhead(timeAt(e.clientX));
  });
  bar.addEventListener('pointermove', (e) => {
    const ms = timeAt(e.clientX);
    if (dragging) playhead(ms);
    hover.hidden = false;
    hover.style.left = `${pct(ms)}%`;
    hover.querySelector('span').textContent = showTime(new Date(ms), lang());
    clearTimeout(hoverTimer);
    hoverTimer = setTimeout(() => thumbnail(ms), 150);
  });
  bar.addEventListener('pointerleave', () => {
    hover.hidden = true;
    clearTimeout(hoverTimer);
  });
  bar.addEventListener('pointerup', (e) => {
    if (!dragging) return;
    dragging = false;
    const ms = timeAt(e.clientX);
    const from = recordedFrom(ms);
    if (from === null) {
      opts.notify(t('noFootageHere'));
      return;
    }
    opts.onSeek(from);
  });

  return {
    el: wrap, show, playhead, recordedFrom,
    get zoom() { return state.zoom; },
    get window() { return [state.start, state.end]; },
    dispose() {
      clearTimeout(hoverTimer);
      for (const url of thumbs.values()) URL.revokeObjectURL(url);
      thumbs.clear();
    },
  };
}

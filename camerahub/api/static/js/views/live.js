// Live grid: one <video> per camera, each fed by live.mp4 with a media token.

import {mediaUrl} from '../api.js';
import {field, h, replace} from '../dom.js';
import {t} from '../i18n.js';

// Browsers keep at most 6 HTTP/1.1 connections per server and every tile holds one, so
// four tiles leave room for the API calls (behind an HTTP/2 proxy this limit goes away).
const MAX_TILES = 4;
const RETRY_MS = 5000;
const START_WAIT_MS = 15000;
const STALL_MS = 20000; // no new picture for this long: the stream died quietly, reconnect

class Tile {
  constructor(cam, notify) {
    this.cam = cam;
    this.notify = notify;
    this.stopped = false;
    this.timer = null;
    this.video = h('video', {muted: true, autoplay: true, playsinline: true,
      'aria-label': `${t('liveTitle')}: ${cam.name}`, 'data-camera': cam.id});
    this.status = h('div', {class: 'tile-status', role: 'status'}, t('connecting'));
    this.el = h('figure', {class: 'tile'}, this.video, this.status,
      h('figcaption', {}, cam.name, ' ', h('small', {}, cam.room_name)));
    this.video.addEventListener('playing', () => {
      this.status.hidden = true;
      // time from asking for the stream to the first picture, for diagnosis
      this.video.dataset.firstFrameMs = String(Math.round(performance.now() - this.began));
    });
    this.video.addEventListener('error', () => this.retry());
    this.video.addEventListener('ended', () => this.retry());
    this.lastTime = -1;
    this.lastMove = Date.now();
    this.watchdog = setInterval(() => this.check(), STALL_MS / 4);
  }

  /** Reconnect a tile whose picture stopped moving without an error or end event. */
  check() {
    if (this.stopped || !this.video.getAttribute('src')) return;
    if (this.video.currentTime !== this.lastTime) {
      this.lastTime = this.video.currentTime;
      this.lastMove = Date.now();
    } else if (Date.now() - this.lastMove > STALL_MS) {
      this.lastMove = Date.now();
      this.retry();
    }
  }

  /** Connect; resolves once video arrives, the attempt fails, or after START_WAIT_MS. */
  async start() {
    if (this.stopped) return;
    this.status.hidden = false;
    this.began = performance.now();
    try {
      this.video.src = await mediaUrl(this.cam.id, 'live.mp4');
      this.video.play().catch(() => {});
      await this.settled();
    } catch (err) {
      this.status.textContent = err.message;
      this.retry(false);
    }
  }

  settled() {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        ['loadeddata', 'error'].forEach((e) => this.video.removeEventListener(e, done));
        resolve();
      };
      const timer = setTimeout(done, START_WAIT_MS);
      ['loadeddata', 'error'].forEach((e) => this.video.addEventListener(e, done));
    });
  }

  /** The stream ended (camera gone, view time over, token expired): reconnect soon. */
  retry(showMessage = true) {
    if (this.stopped) return;
    if (showMessage) this.status.textContent = t('liveFailed');
    this.status.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), RETRY_MS);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.video.removeAttribute('src');
    this.video.load(); // closes the HTTP stream, so the hub can release the camera
  }
}

/** Start tiles one after another: each camera's first request is decided and audited
 * on its own, rather than all at once (and the server opens one camera at a time). */
async function startInTurn(tiles) {
  for (const tile of tiles) {
    if (tile.stopped) return;
    await tile.start();
  }
}

export function render(view, {session, params, notify}) {
  const cams = session.cameras.filter((c) => c.actions.includes('live'));
  const sites = [...new Set(cams.map((c) => c.site))];
  const wanted = params.get('camera');
  const state = {site: '', size: wanted ? 1 : MAX_TILES, page: 0};
  let tiles = [];
  const site = field(t('liveSite'), h('select', {},
    h('option', {value: ''}, t('allSites')), sites.map((s) => h('option', {value: s}, s))));
  const size = field(t('gridSize'), h('select', {},
    [1, MAX_TILES].map((n) => h('option', {value: n, selected: n === state.size}, String(n)))));
  const pageInfo = h('span', {class: 'muted', 'aria-live': 'polite'});
  const prev = h('button', {type: 'button', class: 'secondary'}, t('prev'));
  const next = h('button', {type: 'button', class: 'secondary'}, t('next'));
  const grid = h('div', {class: 'grid', id: 'live-grid'});

  if (wanted) state.page = Math.max(0, cams.findIndex((c) => c.id === wanted));

  function shown() {
    return cams.filter((c) => !state.site || c.site === state.site);
  }

  function draw() {
    tiles.forEach((tile) => tile.stop());
    const list = shown();
    const pages = Math.max(1, Math.ceil(list.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const slice = list.slice(state.page * state.size, (state.page + 1) * state.size);
    tiles = slice.map((cam) => new Tile(cam, notify));
    grid.className = `grid size-${state.size}`;
    replace(grid, tiles.map((tile) => tile.el));
    startInTurn(tiles);
    pageInfo.textContent = `${t('page')} ${state.page + 1} / ${pages}`;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }

  site.input.addEventListener('change', () => { state.site = site.input.value; state.page = 0; draw(); });
  size.input.addEventListener('change', () => { state.size = Number(size.input.value); draw(); });
  prev.addEventListener('click', () => { state.page -= 1; draw(); });
  next.addEventListener('click', () => { state.page += 1; draw(); });
  replace(view, h('h1', {}, t('liveTitle')),
    h('div', {class: 'toolbar'}, site.row, size.row, prev, pageInfo, next),
    h('p', {class: 'muted small'}, t('liveLimit')), grid);
  draw();
  return () => tiles.forEach((tile) => tile.stop());
}

// Shown to a signed-in user with no screen to open (e.g. ops: deploy and health only).

import {h, replace} from '../dom.js';
import {t, tv} from '../i18n.js';

export function render(view, {session}) {
  replace(view, h('section', {class: 'card narrow'}, h('h1', {}, t('appName')),
    h('p', {}, t('signedInAs', {name: session.me.id, role: tv('role', session.me.role)})),
    h('p', {}, t('nothingToShow'))));
}

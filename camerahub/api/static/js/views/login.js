// Sign-in screen.

import {signIn} from '../api.js';
import {field, h, replace} from '../dom.js';
import {t} from '../i18n.js';

export function render(view, {go, notify}) {
  const user = field(t('username'), h('input', {name: 'username', autocomplete: 'username',
    required: true, autofocus: true}));
  const pass = field(t('password'), h('input', {name: 'password', type: 'password',
    autocomplete: 'current-password', required: true}));
  const button = h('button', {type: 'submit', id: 'signin'}, t('signIn'));
  const form = h('form', {novalidate: true, class: 'card narrow', 'aria-labelledby': 'signin-title'},
    h('h1', {id: 'signin-title'}, t('signInTitle')), user.row, pass.row, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await signIn(user.input.value.trim(), pass.input.value);
      notify('');
      go('#/');
    } catch (err) {
      notify(err.message);
      pass.input.value = '';
      pass.input.focus();
    } finally {
      button.disabled = false;
    }
  });
  replace(view, form);
}

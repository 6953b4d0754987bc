// UI strings of the live screens, in both languages; merged into i18n.js's table.

export default {
  ja: {
  },
  en: {
  },
};

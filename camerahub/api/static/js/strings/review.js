// UI strings of the review screens, in both languages; merged into i18n.js's table.

export default {
  ja: {
  },
  en: {
  },
};

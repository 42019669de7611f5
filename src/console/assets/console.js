// Cordon console: the only script besides htmx. No inline script anywhere (CSP default-src 'self').
// - htmx requests carry the CSRF token from <meta name="csrf-token">;
// - a button with data-confirm asks before its form is sent;
// - [data-verify] buttons check an audit entry in the browser (audit-verify.js).
(function () {
  'use strict';
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }
  document.addEventListener('htmx:configRequest', function (event) {
    event.detail.headers['x-csrf-token'] = csrf();
  });
  document.addEventListener('submit', function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute('data-confirm');
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();

// Shared behaviour of jiralink's pages: confirmations before destructive actions.
// Everything works without this file (the delete button then opens a confirmation page).
(function () {
  'use strict';

  // Delete buttons in the connections list open dialog#confirm-delete, whose form posts to
  // the button's data-delete-url.
  const dialog = document.getElementById('confirm-delete');
  if (dialog && typeof dialog.showModal === 'function') {
    const form = document.getElementById('confirm-delete-form');
    const name = document.getElementById('confirm-delete-name');
    const cancel = document.getElementById('confirm-delete-no');
    document.addEventListener('click', function (event) {
      const button = event.target.closest('button.action-delete[data-delete-url]');
      if (!button) {
        return;
      }
      event.preventDefault();
      form.setAttribute('action', button.dataset.deleteUrl);
      name.textContent = button.dataset.name || '';
      dialog.showModal();
      cancel.focus();
    });
    cancel.addEventListener('click', function () {
      dialog.close();
    });
  }

  // Forms marked data-confirm ask before submitting.
  document.addEventListener('submit', function (event) {
    const form = event.target;
    const question = form.dataset ? form.dataset.confirm : undefined;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();

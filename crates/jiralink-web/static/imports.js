// The import pages: editing the TOML ticks "Save this TOML instead of the table", editing the
// table unticks it; "Upload and run" says the run is going on while the page waits for it.
// Everything works without this file (the box is then ticked by hand).
(function () {
  'use strict';

  const form = document.getElementById('import-form');
  const useToml = document.getElementById('use-toml');
  const toml = document.getElementById('toml');
  if (form && useToml && toml) {
    toml.addEventListener('input', function () {
      useToml.checked = true;
    });
    const table = document.getElementById('mapping-section');
    const settings = document.getElementById('settings');
    [table, settings].forEach(function (section) {
      if (section) {
        section.addEventListener('input', function () {
          useToml.checked = false;
        });
      }
    });
  }

  const upload = document.getElementById('upload-form');
  if (upload) {
    upload.addEventListener('submit', function (event) {
      const button = event.submitter;
      if (button && button.dataset.busy) {
        // Disabled after the submission has taken the button's name and action.
        setTimeout(function () {
          button.disabled = true;
          button.textContent = button.dataset.busy;
        }, 0);
      }
    });
  }
})();

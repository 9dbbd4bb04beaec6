// The export pages: the definition form shows the fields the chosen export type and schedule
// use; the run page follows a running run; the export page notices a run starting or ending.
// Everything works without this file: the form then shows every field, and the pages refresh
// themselves (a <noscript> refresh) while something runs.
(function () {
  'use strict';

  // ---- The definition form ----
  const form = document.getElementById('export-form');
  if (form) {
    const checked = function (name) {
      const input = form.querySelector('input[name="' + name + '"]:checked');
      return input ? input.value : '';
    };
    const show = function (selector, on) {
      form.querySelectorAll(selector).forEach(function (el) {
        el.hidden = !on;
      });
    };
    const resource = document.getElementById('resource');
    const update = function () {
      const kind = checked('kind');
      show('.kind-delta', kind === 'delta');
      show('.kind-test', kind === 'test');
      const schedule = checked('schedule');
      show('.schedule-every', schedule === 'every');
      show('.schedule-cron', schedule === 'cron');
      show('.schedule-zone', schedule === 'every' || schedule === 'cron');
      const option = resource && resource.selectedOptions[0];
      if (option) {
        show('[data-field="jql"]', option.dataset.needsJql === 'true');
        const delta = form.querySelector('#kind-delta');
        if (delta) {
          delta.disabled = option.dataset.supportsDelta !== 'true';
        }
      }
    };
    form.addEventListener('change', update);
    update();
  }

  // Polls `url` every second while the page is shown; `onAnswer` gets the JSON.
  const poll = function (url, onAnswer) {
    let stopped = false;
    const tick = function () {
      if (stopped) {
        return;
      }
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (body) {
          if (body && onAnswer(body) === false) {
            stopped = true;
            return;
          }
          window.setTimeout(tick, 1000);
        })
        .catch(function () {
          window.setTimeout(tick, 2000);
        });
    };
    window.setTimeout(tick, 1000);
  };

  // ---- The run page ----
  const run = document.getElementById('run');
  if (run && run.dataset.progressUrl) {
    const set = function (id, text) {
      const el = document.getElementById(id);
      if (el && typeof text === 'string') {
        el.textContent = text;
      }
    };
    poll(run.dataset.progressUrl, function (p) {
      if (p.state !== 'running') {
        // Finished: the page as the server renders it now (output link, final numbers).
        window.location.reload();
        return false;
      }
      set('run-records', p.records);
      set('run-pages', p.pages);
      set('run-bytes', p.size);
      set('run-requests', p.requests);
      set('run-retries', p.retries);
      set('run-waits', p.waits);
      set('run-duplicates', p.duplicates);
      set('run-duration', p.duration);
      if (p.expected) {
        set('run-expected', 'about ' + p.expected);
      }
      const bar = document.getElementById('run-bar');
      if (bar && typeof p.expectedRaw === 'number' && p.expectedRaw > 0) {
        bar.max = p.expectedRaw;
        bar.value = p.recordsRaw;
      }
      return true;
    });
  }

  // ---- The export page: reload when its latest run changes ----
  const summary = document.getElementById('export-summary');
  if (summary && summary.dataset.watchUrl) {
    poll(summary.dataset.watchUrl, function (s) {
      if ((s.lastRunId || '') !== summary.dataset.watchRun ||
          (s.lastRunState || '') !== summary.dataset.watchState) {
        window.location.reload();
        return false;
      }
      return true;
    });
  }
})();

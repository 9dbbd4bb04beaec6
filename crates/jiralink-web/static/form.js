// The connection form: which fields show, help toggles, "Test connection" without leaving the
// page, the HTTP view, the OAuth 2.0 client dialog and the scope picker.
//
// The page works without this file except for the dialogs and the HTTP view: the server
// renders the fields for the chosen API type and auth type, and Test connection submits the
// form and shows the report on the page it returns.
(function () {
  'use strict';

  const form = document.getElementById('connection-form');
  if (!form) {
    return;
  }

  const byId = function (id) {
    return document.getElementById(id);
  };
  const csrf = form.querySelector('input[name="_csrf"]').value;
  const apiType = byId('api-type');
  const authType = byId('auth-type');

  // ---- Requests --------------------------------------------------------------------------

  // Posts form data to a jiralink URL and reads the JSON answer. The CSRF token travels in
  // the header and in the body, as the session layer accepts either.
  function postForm(url, params) {
    if (!params.has('_csrf')) {
      params.set('_csrf', csrf);
    }
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-CSRF-Token': csrf,
        Accept: 'application/json'
      },
      body: params.toString()
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {
            message: 'The server answered ' + response.status + ' without details; try again.'
          };
        })
        .then(function (body) {
          return { ok: response.ok, status: response.status, body: body };
        });
    });
  }

  function formParams() {
    return new URLSearchParams(new FormData(form));
  }

  function networkProblem() {
    return 'The server could not be reached; check the connection to jiralink and try again.';
  }

  // ---- Which fields show ---------------------------------------------------------------

  // The same rules as the server's: Cloud Platform shows subdomain and auth type, then Basic's
  // or OAuth 2.0's fields; Customer Service Management only the OAuth 2.0 fields.
  function shape() {
    const api = apiType.value;
    if (api === 'cloud-platform') {
      return {
        site: true,
        basic: authType.value === 'basic',
        oauth: authType.value === 'oauth2'
      };
    }
    if (api === 'customer-service-management') {
      return { site: false, basic: false, oauth: true };
    }
    return { site: false, basic: false, oauth: false };
  }

  function showField(key, show) {
    const field = form.querySelector('.field[data-field="' + key + '"]');
    if (field) {
      field.hidden = !show;
    }
  }

  function updateVisibility() {
    const s = shape();
    showField('subdomain', s.site);
    showField('auth_type', s.site);
    showField('username', s.basic);
    showField('api_token', s.basic);
    showField('oauth_client', s.oauth);
    showField('scopes', s.oauth);
    byId('save-authorize').hidden = !s.oauth;
    updateClientButtons();
  }

  apiType.addEventListener('change', function () {
    switchScopes();
    updateVisibility();
  });
  authType.addEventListener('change', updateVisibility);

  // ---- Help toggles ----------------------------------------------------------------------

  form.querySelectorAll('button.help-toggle[aria-controls]').forEach(function (button) {
    button.addEventListener('click', function () {
      const steps = byId(button.getAttribute('aria-controls'));
      const open = button.getAttribute('aria-expanded') !== 'true';
      button.setAttribute('aria-expanded', open ? 'true' : 'false');
      steps.hidden = !open;
    });
  });

  // ---- Field errors ----------------------------------------------------------------------

  function clearProblems(container) {
    container.querySelectorAll('p.field-error').forEach(function (p) {
      p.remove();
    });
    container.querySelectorAll('[aria-invalid="true"]').forEach(function (el) {
      el.removeAttribute('aria-invalid');
    });
    container.querySelectorAll('.field.has-error').forEach(function (el) {
      el.classList.remove('has-error');
    });
  }

  // Puts each problem under its field; returns the problems no visible field took.
  function showProblems(container, problems) {
    const rest = [];
    (problems || []).forEach(function (problem) {
      const field = container.querySelector('.field[data-field="' + problem.field + '"]');
      if (!field || field.hidden) {
        rest.push(problem);
        return;
      }
      field.classList.add('has-error');
      const control = field.querySelector('input:not([type="hidden"]), select');
      if (control) {
        control.setAttribute('aria-invalid', 'true');
      }
      const p = document.createElement('p');
      p.className = 'field-error';
      p.dataset.for = problem.field;
      p.textContent = problem.message.charAt(0).toUpperCase() + problem.message.slice(1);
      const helps = field.querySelectorAll('p.help');
      const help = helps[helps.length - 1];
      if (help) {
        help.after(p);
      } else {
        field.append(p);
      }
    });
    return rest;
  }

  // ---- Test connection -------------------------------------------------------------------

  const testButton = byId('test-connection');
  const testResult = byId('test-result');

  function addDetail(list, label, value) {
    if (value === undefined || value === null || value === '') {
      return;
    }
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    list.append(dt, dd);
    return dd;
  }

  function showTestOutcome(outcome) {
    testResult.replaceChildren();
    testResult.className = 'test-result';
    let heading;
    if (outcome.result === 'passed') {
      testResult.classList.add('test-passed');
      heading = 'The connection works.';
    } else if (outcome.result === 'needs_authorization') {
      testResult.classList.add('test-pending');
      heading =
        'OAuth 2.0 connections are tested once they are authorized: choose Save & authorize.';
    } else {
      testResult.classList.add('test-failed');
      heading = 'The connection does not work.';
    }
    const p = document.createElement('p');
    p.className = 'test-heading';
    p.textContent = heading;
    const list = document.createElement('dl');
    list.className = 'test-details';
    addDetail(list, 'Reachable', outcome.reachable ? 'yes' : 'no');
    const account = outcome.account;
    if (account) {
      const name = account.displayName || account.accountId;
      addDetail(list, 'Account', account.email ? name + ' <' + account.email + '>' : name);
    }
    addDetail(list, 'Site', outcome.siteUrl);
    addDetail(list, 'Scopes', (outcome.grantedScopes || []).join(', '));
    addDetail(list, 'Missing scopes', (outcome.missingScopes || []).join(', '));
    addDetail(list, 'Request', outcome.probe);
    if (typeof outcome.latencyMs === 'number') {
      addDetail(list, 'Latency', outcome.latencyMs + ' ms');
    }
    if (outcome.failure) {
      addDetail(list, 'Problem', outcome.failure.message);
      const fix = addDetail(list, 'Fix', outcome.failure.fix);
      if (fix) {
        fix.className = 'test-fix';
      }
    }
    testResult.append(p, list);
    testResult.hidden = false;
  }

  function showTestError(message) {
    testResult.replaceChildren();
    testResult.className = 'test-result test-failed';
    const p = document.createElement('p');
    p.className = 'test-heading';
    p.textContent = message;
    testResult.append(p);
    testResult.hidden = false;
  }

  testButton.addEventListener('click', function (event) {
    event.preventDefault();
    clearProblems(form);
    testButton.disabled = true;
    testButton.setAttribute('aria-busy', 'true');
    const label = testButton.textContent;
    testButton.textContent = 'Testing…';
    postForm(form.dataset.testUrl, formParams())
      .then(function (answer) {
        if (answer.ok) {
          showTestOutcome(answer.body);
        } else {
          const rest = showProblems(form, answer.body.problems);
          const extra = rest.map(function (p) {
            return p.message;
          });
          showTestError([answer.body.message].concat(extra).join(' '));
        }
      })
      .catch(function () {
        showTestError(networkProblem());
      })
      .finally(function () {
        testButton.disabled = false;
        testButton.removeAttribute('aria-busy');
        testButton.textContent = label;
      });
  });

  // Enter in a text field saves, as the primary button promises; without this the browser
  // would press the first submit button, Test connection.
  form.addEventListener('keydown', function (event) {
    const target = event.target;
    if (
      event.key === 'Enter' &&
      target.tagName === 'INPUT' &&
      target.type !== 'button' &&
      target.type !== 'submit' &&
      typeof form.requestSubmit === 'function'
    ) {
      event.preventDefault();
      form.requestSubmit(byId('save'));
    }
  });

  // ---- Simple / HTTP view ----------------------------------------------------------------

  const viewSimple = byId('view-simple');
  const viewHttp = byId('view-http');
  const simpleView = byId('simple-view');
  const httpView = byId('http-view');
  const httpStatus = byId('http-view-status');
  const httpResolved = byId('http-view-resolved');

  function setText(id, text) {
    byId(id).textContent = text;
  }

  function renderHttpView(view) {
    setText('http-base-uri', view.baseUri);
    setText('http-media-type', view.mediaType);
    setText('http-auth-type', view.authType);
    const ping = byId('http-ping');
    const code = document.createElement('code');
    code.textContent = view.ping.method + ' ' + (view.ping.baseUri || '') + view.ping.relativeUri;
    ping.replaceChildren(code, document.createTextNode(' succeeds on ' + view.ping.success));

    const auth = byId('http-auth');
    auth.replaceChildren();
    if (view.basic) {
      addDetail(auth, 'Username', view.basic.username);
    }
    if (view.oauth) {
      const o = view.oauth;
      addDetail(auth, 'Grant type', o.grantType);
      addDetail(auth, 'Authorize URL', o.authorizeUrl);
      addDetail(auth, 'Token URL', o.tokenUrl);
      addDetail(auth, 'Audience', o.audience);
      addDetail(auth, 'Client ID', o.clientId);
      addDetail(auth, 'Redirect URI', o.redirectUri);
      addDetail(auth, 'Scopes', (o.scopes || []).join(o.scopeDelimiter));
      addDetail(auth, 'Prompt', o.prompt);
      addDetail(auth, 'PKCE', o.pkce);
      addDetail(auth, 'Client credentials', 'sent in the ' + o.clientCredentialsLocation);
    }

    const body = byId('http-headers').querySelector('tbody');
    body.replaceChildren();
    (view.headers || []).forEach(function (h) {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      name.textContent = h.name;
      const value = document.createElement('td');
      const c = document.createElement('code');
      c.textContent = h.value;
      value.append(c);
      tr.append(name, value);
      body.append(tr);
    });
    setText('http-rate-limit-status', String(view.rateLimit.failStatusCode));
    setText('http-rate-limit-header', view.rateLimit.retryHeader);
    httpResolved.hidden = false;
    httpStatus.textContent = '';
  }

  let httpRequest = 0;
  function refreshHttpView() {
    if (httpView.hidden) {
      return;
    }
    const mine = ++httpRequest;
    httpStatus.textContent = 'Resolving the HTTP settings…';
    postForm(form.dataset.httpViewUrl, formParams())
      .then(function (answer) {
        if (mine !== httpRequest) {
          return;
        }
        if (answer.ok) {
          renderHttpView(answer.body);
          return;
        }
        httpResolved.hidden = true;
        const details = (answer.body.problems || []).map(function (p) {
          return p.message;
        });
        httpStatus.textContent = [answer.body.message].concat(details).join(' ');
      })
      .catch(function () {
        if (mine === httpRequest) {
          httpStatus.textContent = networkProblem();
        }
      });
  }

  function setView(http) {
    viewSimple.setAttribute('aria-pressed', http ? 'false' : 'true');
    viewHttp.setAttribute('aria-pressed', http ? 'true' : 'false');
    simpleView.hidden = http;
    httpView.hidden = !http;
    byId('view').value = http ? 'http' : 'simple';
    if (http) {
      refreshHttpView();
    }
  }

  // A failed save can come back on the HTTP view (the server opens it for its fields'
  // problems); what it resolves to is fetched then.
  refreshHttpView();

  viewSimple.addEventListener('click', function () {
    setView(false);
  });
  viewHttp.addEventListener('click', function () {
    setView(true);
  });
  // Pressing a button right after typing in an advanced field blurs the field, and its
  // change would re-render the view's status under the pointer: the button moves before the
  // press ends and the click is lost. Such a refresh waits until the press is over.
  let pressing = false;
  let refreshAfterPress = false;
  document.addEventListener('pointerdown', function () {
    pressing = true;
  }, true);
  document.addEventListener('pointerup', function () {
    pressing = false;
    if (refreshAfterPress) {
      refreshAfterPress = false;
      // After the click that this press makes, which may leave the page anyway.
      setTimeout(refreshHttpView, 0);
    }
  }, true);
  form.addEventListener('change', function (event) {
    // The advanced settings do not change what the view resolves to beyond their own fields.
    if (!httpView.contains(event.target)) {
      return;
    }
    if (pressing) {
      refreshAfterPress = true;
      return;
    }
    refreshHttpView();
  });

  // ---- OAuth 2.0 client dialog -----------------------------------------------------------

  const clientSelect = byId('oauth-client');
  const clientDialog = byId('oauth-client-dialog');
  const clientForm = byId('oauth-client-form');
  const clientError = clientDialog.querySelector('.dialog-error');
  const clientTitle = byId('oauth-client-dialog-title');
  const clientName = byId('oauth-client-name');
  const clientId = byId('oauth-client-id');
  const clientSecret = byId('oauth-client-secret');
  const secretReenter = byId('oauth-client-secret-reenter');
  const clientEditButton = byId('oauth-client-edit');
  const clientSaveButton = byId('oauth-client-save');
  let editingClient = null;

  function selectedClient() {
    const option = clientSelect.selectedOptions[0];
    return option && option.value && option.dataset.name !== undefined ? option : null;
  }

  function updateClientButtons() {
    clientEditButton.disabled = !selectedClient();
  }
  clientSelect.addEventListener('change', updateClientButtons);

  function openClientDialog(option) {
    editingClient = option ? option.value : null;
    clientTitle.textContent = option
      ? clientTitle.dataset.editTitle
      : clientTitle.dataset.createTitle;
    clientName.value = option ? option.dataset.name : '';
    clientId.value = option ? option.dataset.clientId : '';
    clientSecret.value = '';
    secretReenter.hidden = !option;
    clientError.hidden = true;
    clientError.textContent = '';
    byId('oauth-client-copy-status').textContent = '';
    clearProblems(clientForm);
    clientDialog.showModal();
    (option ? clientSecret : clientName).focus();
  }

  byId('oauth-client-add').addEventListener('click', function () {
    openClientDialog(null);
  });
  clientEditButton.addEventListener('click', function () {
    const option = selectedClient();
    if (option) {
      openClientDialog(option);
    }
  });
  byId('oauth-client-cancel').addEventListener('click', function () {
    clientSecret.value = '';
    clientDialog.close();
  });
  clientDialog.addEventListener('close', function () {
    clientSecret.value = '';
  });

  byId('oauth-client-copy').addEventListener('click', function () {
    const field = byId('oauth-client-callback');
    const status = byId('oauth-client-copy-status');
    const done = function () {
      status.textContent = 'Copied the callback URL.';
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        field.select();
        status.textContent = 'Press Ctrl+C (or ⌘C) to copy the selected URL.';
      });
    } else {
      field.select();
      status.textContent = 'Press Ctrl+C (or ⌘C) to copy the selected URL.';
    }
  });

  function upsertClientOption(saved) {
    let option = Array.prototype.find.call(clientSelect.options, function (o) {
      return o.value === saved.id;
    });
    if (!option) {
      option = document.createElement('option');
      option.value = saved.id;
      clientSelect.append(option);
    }
    option.textContent = saved.name;
    option.dataset.name = saved.name;
    option.dataset.clientId = saved.clientId;
    option.dataset.version = String(saved.version);
    clientSelect.value = saved.id;
    const placeholder = clientSelect.querySelector('option[value=""]');
    if (placeholder) {
      placeholder.textContent = 'Choose an OAuth 2.0 client';
    }
    clientSelect.dispatchEvent(new Event('change', { bubbles: true }));
  }

  clientForm.addEventListener('submit', function (event) {
    event.preventDefault();
    clearProblems(clientForm);
    clientError.hidden = true;
    const params = new URLSearchParams(new FormData(clientForm));
    const editedOption = editingClient ? selectedClient() : null;
    if (editedOption && editedOption.dataset.version) {
      params.set('version', editedOption.dataset.version);
    }
    const url = editingClient
      ? clientForm.dataset.createUrl + '/' + encodeURIComponent(editingClient)
      : clientForm.dataset.createUrl;
    clientSaveButton.disabled = true;
    postForm(url, params)
      .then(function (answer) {
        if (answer.ok) {
          upsertClientOption(answer.body);
          clientDialog.close();
          clientSelect.focus();
          return;
        }
        const rest = showProblems(clientForm, answer.body.problems);
        clientError.textContent = [answer.body.message]
          .concat(
            rest.map(function (p) {
              return p.message;
            })
          )
          .join(' ');
        clientError.hidden = false;
        const invalid = clientForm.querySelector('[aria-invalid="true"]');
        if (invalid) {
          invalid.focus();
        }
      })
      .catch(function () {
        clientError.textContent = networkProblem();
        clientError.hidden = false;
      })
      .finally(function () {
        clientSaveButton.disabled = false;
      });
  });

  // ---- Scope picker ----------------------------------------------------------------------

  const scopesDialog = byId('scopes-dialog');
  const available = byId('scopes-available');
  const chosen = byId('scopes-selected');
  const scopesInputs = byId('scopes-inputs');
  const scopesSummary = byId('scopes-summary');
  const scopeDescription = byId('scope-description');
  let working = [];

  // The catalogue of the chosen API type, in catalogue order.
  function catalogue() {
    const template = byId('scopes-catalogue-' + apiType.value);
    if (!template) {
      return [];
    }
    return Array.prototype.map.call(template.content.querySelectorAll('option'), function (o) {
      return {
        name: o.value,
        group: o.dataset.group,
        description: o.dataset.description
      };
    });
  }

  function savedScopes() {
    return Array.prototype.map.call(
      scopesInputs.querySelectorAll('input[name="scopes"]'),
      function (input) {
        return input.value;
      }
    );
  }

  function writeScopes(names) {
    scopesInputs.replaceChildren();
    names.forEach(function (name) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = 'scopes';
      input.value = name;
      scopesInputs.append(input);
    });
    scopesSummary.textContent =
      names.length === 0
        ? 'No scopes selected'
        : names.length + (names.length === 1 ? ' scope' : ' scopes') + ' selected: ' +
          names.join(', ');
  }

  // Scopes of another API type mean nothing to this one, so only the chosen type's scopes
  // are submitted. The choice made for each type is kept on the page, so switching back
  // brings it back; a type not chosen before starts from the scopes its catalogue shares
  // with the previous choice.
  const scopesByType = {};
  let scopesType = apiType.value;
  function switchScopes() {
    scopesByType[scopesType] = savedScopes();
    scopesType = apiType.value;
    if (Object.prototype.hasOwnProperty.call(scopesByType, scopesType)) {
      writeScopes(scopesByType[scopesType]);
      return;
    }
    const names = catalogue().map(function (s) {
      return s.name;
    });
    const saved = savedScopes();
    const kept = saved.filter(function (s) {
      return names.indexOf(s) >= 0;
    });
    if (kept.length !== saved.length) {
      writeScopes(kept);
    }
  }

  function fillList(select, scopes) {
    const keep = new Set(
      Array.prototype.map.call(select.selectedOptions, function (o) {
        return o.value;
      })
    );
    select.replaceChildren();
    let group = null;
    let parent = select;
    scopes.forEach(function (s) {
      if (s.group !== group) {
        group = s.group;
        parent = document.createElement('optgroup');
        parent.label = group;
        select.append(parent);
      }
      const option = document.createElement('option');
      option.value = s.name;
      option.textContent = s.name;
      option.title = s.description;
      option.selected = keep.has(s.name);
      parent.append(option);
    });
  }

  function renderPicker() {
    const all = catalogue();
    fillList(
      available,
      all.filter(function (s) {
        return working.indexOf(s.name) < 0;
      })
    );
    fillList(
      chosen,
      all.filter(function (s) {
        return working.indexOf(s.name) >= 0;
      })
    );
    byId('scopes-count').textContent =
      working.length + ' of ' + all.length + ' scopes selected.';
    byId('scopes-add-all').disabled = working.length === all.length;
    byId('scopes-remove-all').disabled = working.length === 0;
  }

  function selectedNames(select) {
    return Array.prototype.map.call(select.selectedOptions, function (o) {
      return o.value;
    });
  }

  function add(names) {
    names.forEach(function (n) {
      if (working.indexOf(n) < 0) {
        working.push(n);
      }
    });
    renderPicker();
  }

  function remove(names) {
    working = working.filter(function (n) {
      return names.indexOf(n) < 0;
    });
    renderPicker();
  }

  function describe(select) {
    const option = select.selectedOptions[0];
    scopeDescription.textContent = option ? option.value + ': ' + option.title : '';
  }

  byId('scopes-edit').addEventListener('click', function () {
    working = savedScopes();
    renderPicker();
    scopeDescription.textContent = '';
    scopesDialog.showModal();
    available.focus();
  });
  byId('scopes-add-all').addEventListener('click', function () {
    add(
      catalogue().map(function (s) {
        return s.name;
      })
    );
  });
  byId('scopes-add').addEventListener('click', function () {
    add(selectedNames(available));
  });
  byId('scopes-remove').addEventListener('click', function () {
    remove(selectedNames(chosen));
  });
  byId('scopes-remove-all').addEventListener('click', function () {
    remove(working.slice());
  });

  [
    [available, add],
    [chosen, remove]
  ].forEach(function (pair) {
    const select = pair[0];
    const move = pair[1];
    select.addEventListener('dblclick', function (event) {
      if (event.target.tagName === 'OPTION') {
        move([event.target.value]);
      }
    });
    select.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') {
        event.preventDefault();
        move(selectedNames(select));
      }
    });
    select.addEventListener('change', function () {
      describe(select);
    });
  });

  byId('scopes-save').addEventListener('click', function () {
    // Stored in catalogue order, as the server sorts them anyway.
    const order = catalogue().map(function (s) {
      return s.name;
    });
    writeScopes(
      order.filter(function (n) {
        return working.indexOf(n) >= 0;
      })
    );
    scopesDialog.close();
    byId('scopes-edit').focus();
    refreshHttpView();
  });
  byId('scopes-cancel').addEventListener('click', function () {
    scopesDialog.close();
    byId('scopes-edit').focus();
  });

  updateVisibility();
})();

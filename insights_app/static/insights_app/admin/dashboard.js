// Sync dashboard: poll the status JSON and redraw the health and run tables in place.
// Every value from the server is set with textContent, never parsed as HTML (names are user-typed).
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) { node.textContent = text; }
  }

  // Every figure arrives already written by the server, so a refreshed row reads like the first one.
  function runRow(run, root, csrf) {
    var row = el("tr", {"data-run-id": run.id, "class": "insights-status-" + run.status + (run.silent ? " insights-silent" : "")});
    var first = el("td");
    first.appendChild(el("a", {href: run.url}, run.label));
    row.appendChild(first);
    var status = run.status_label;
    if (run.cancel_requested && run.status === "running") { status += " (" + root.dataset.stoppingLabel + ")"; }
    var statusCell = el("td", {"class": "insights-status"}, status);
    if (run.heartbeat_text) {
      statusCell.appendChild(el("br"));
      statusCell.appendChild(el("small", {"class": "insights-heartbeat"}, run.heartbeat_text));
    }
    row.appendChild(statusCell);
    row.appendChild(el("td", {"class": "insights-by"}, run.started_by));
    var progress = el("td", {"class": "insights-progress"});
    if (run.percent !== null && run.percent !== undefined) {
      progress.appendChild(el("progress", {max: 100, value: run.percent}));
      progress.appendChild(document.createTextNode(" "));
    }
    progress.appendChild(document.createTextNode(run.progress_text));
    if (run.estimate_text) {
      progress.appendChild(el("br"));
      progress.appendChild(el("small", {"class": "insights-estimate"}, run.estimate_text));
    }
    row.appendChild(progress);
    row.appendChild(el("td", {"class": "insights-duration"}, run.duration));
    row.appendChild(el("td", {"class": "insights-num"}, run.created_updated_text));
    row.appendChild(el("td", {"class": "insights-num"}, run.api_requests_text));
    var last = el("td");
    if (run.cancel_url) {
      var form = el("form", {method: "post", action: run.cancel_url, "class": "insights-inline-form"});
      form.appendChild(el("input", {type: "hidden", name: "csrfmiddlewaretoken", value: csrf}));
      form.appendChild(el("button", {type: "submit", "class": "button insights-cancel"}, root.dataset.cancelLabel));
      last.appendChild(form);
    } else {
      last.textContent = run.error || "";
    }
    row.appendChild(last);
    return row;
  }

  function fillRows(tbodyId, runs, root, csrf) {
    var tbody = document.getElementById(tbodyId);
    if (!tbody) { return; }
    var rows = runs.map(function (run) { return runRow(run, root, csrf); });
    if (!rows.length) {
      var empty = el("tr", {"class": "insights-empty"});
      empty.appendChild(el("td", {colspan: "8"}, tbody.dataset.emptyText));
      rows.push(empty);
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  function fillHealth(health, root) {
    var unknown = root.dataset.unknownLabel;
    setText("insights-redis", health.redis_ok ? root.dataset.reachableLabel
      : root.dataset.unreachableLabel + ": " + health.redis_error);
    setText("insights-workers", health.workers.length
      ? health.workers.map(function (w) {
        return w.name + " (" + w.state + (w.looks_dead ? ", " + root.dataset.silentLabel : "") + ")";
      }).join(", ")
      : root.dataset.noneLabel);
    setText("insights-queue-length", health.queue_length === null ? unknown : health.queue_length);
    setText("insights-failed", health.failed_jobs === null ? unknown : health.failed_jobs);
    var last = document.getElementById("insights-last-success");
    if (last && health.last_success_at) {
      var link = el("a", {href: root.dataset.runUrlTemplate.replace("/0/", "/" + health.last_success_id + "/")},
        health.last_success_text);
      last.replaceChildren(link, document.createTextNode(" (" + health.age_text + ")"));
      if (health.stale) {
        last.appendChild(document.createTextNode(" — "));
        last.appendChild(el("strong", {}, root.dataset.staleLabel));
      }
    }
    var budget = health.rate_budget;
    setText("insights-budget", budget ? budget.spent_text + " (" + budget.backend + ")" : unknown);
    if (budget) {
      setText("insights-limiter", budget.limiter_text);
      setText("insights-costs", budget.costs_text);
      setText("insights-rejected", budget.rejected_text ? "; " + budget.rejected_text : "");
    }
    var problems = document.getElementById("insights-problems");
    if (problems) {
      problems.replaceChildren.apply(problems, health.problems.map(function (text) {
        return el("p", {"class": "errornote"}, text);
      }));
    }
    document.querySelectorAll(".insights-start-form button").forEach(function (button) {
      button.disabled = !health.can_enqueue;
    });
    setText("insights-start-help", health.will_run ? root.dataset.okHelp : (health.problems[0] || ""));
  }

  function poll(root, csrf) {
    fetch(root.dataset.statusUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        fillHealth(data.health, root);
        fillRows("insights-active-rows", data.active, root, csrf);
        fillRows("insights-recent-rows", data.recent, root, csrf);
        root.dataset.polls = String(Number(root.dataset.polls || "0") + 1);
        setText("insights-live-error", "");
      })
      .catch(function () {
        setText("insights-live-error", root.dataset.offlineLabel);
      })
      .finally(function () {
        window.setTimeout(function () { poll(root, csrf); }, INTERVAL_MS);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("insights-dashboard");
    if (!root) { return; }
    var token = root.querySelector("input[name=csrfmiddlewaretoken]");
    window.setTimeout(function () { poll(root, token ? token.value : ""); }, INTERVAL_MS);
  });
}());

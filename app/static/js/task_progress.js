/* The progress bar of a background task (templates/crm/task_progress.html): polls the task's
   status (JSON) every second until it ends, then shows its result and problems. Cancel posts the
   form with fetch, so the page stays. */
(function () {
  "use strict";
  var box = document.getElementById("crm-task");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("crm-task-bar");
  var form = document.getElementById("crm-task-cancel-form");
  var ended = false;

  function text(id, value) {
    var node = document.getElementById(id);
    if (node) { node.textContent = value; }
  }

  function show(data) {
    var percent = Math.max(0, Math.min(100, data.percent || 0));
    bar.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    bar.textContent = percent + "%";
    text("crm-task-status", data.status_label || data.status);
    text("crm-task-count", (data.done || 0) + " / " + (data.total === null ? "…" : data.total));
    text("crm-task-left", data.finished ? "0" : (data.time_left || "…"));
    if (data.cancel_requested && !data.finished) {
      document.getElementById("crm-task-cancel").disabled = true;
    }
    if (!data.finished) { return; }
    ended = true;
    box.setAttribute("data-finished", data.status);
    bar.classList.remove("active", "progress-bar-striped");
    bar.classList.add(data.status === "done" ? "progress-bar-success"
      : data.status === "failed" ? "progress-bar-danger" : "progress-bar-warning");
    form.hidden = true;
    document.getElementById("crm-task-left-line").hidden = true;
    if (box.getAttribute("data-reload")) {
      window.location.reload();
      return;
    }
    text("crm-task-summary", data.summary || data.status_label);
    var link = document.getElementById("crm-task-link");
    if (data.url) { link.href = data.url; link.hidden = false; }
    var list = document.getElementById("crm-task-problems");
    list.textContent = "";
    (data.problems || []).forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    document.getElementById("crm-task-result").hidden = false;
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data) { show(data); }
        if (!ended) { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  bar.classList.add("progress-bar-striped", "active");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    document.getElementById("crm-task-cancel").disabled = true;
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (data) { if (data && data.id) { show(data); } })
      .catch(function () { document.getElementById("crm-task-cancel").disabled = false; });
  });
  poll();
}());

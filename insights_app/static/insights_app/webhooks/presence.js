// Refreshes every "In rooms now" block from its JSON URL; builds nodes with textContent only, user text isolated.
(function () {
  "use strict";
  var EVERY_MS = 3000;

  // User text in a <bdi>: a right-to-left override in a name must not reverse the words after it.
  function isolated(text) {
    var bdi = document.createElement("bdi");
    bdi.textContent = text;
    return bdi;
  }

  function render(block, rooms) {
    var box = block.querySelector(".insights-presence-rooms");
    if (!box) return;
    box.replaceChildren();
    if (!rooms.length) {
      var empty = document.createElement("p");
      empty.className = "insights-presence-empty";
      empty.textContent = block.dataset.emptyText;
      box.appendChild(empty);
      return;
    }
    rooms.forEach(function (room) {
      var div = document.createElement("div");
      div.className = "insights-presence-room";
      var h = document.createElement("h3");
      var code = document.createElement("code");
      code.appendChild(isolated(room.room_name));
      if (room.report_url) {
        var a = document.createElement("a");
        a.href = room.report_url;
        a.appendChild(code);
        h.appendChild(a);
      } else {
        h.appendChild(code);
      }
      var heading = " — " + room.num_clients + " " + block.dataset.clientsLabel;
      if (room.since) heading += ", " + block.dataset.sinceLabel + " " + room.since;
      if (room.synced_at) heading += " (" + block.dataset.syncedLabel.replace("__TIME__", room.synced_at) + ")";
      h.appendChild(document.createTextNode(heading));
      div.appendChild(h);
      var ul = document.createElement("ul");
      room.people.forEach(function (person) {
        var li = document.createElement("li");
        li.appendChild(isolated(person.display_name));
        if (person.role_name) {
          li.appendChild(document.createTextNode(" ("));
          li.appendChild(isolated(person.role_name));
          li.appendChild(document.createTextNode(")"));
        }
        // Times come written in the site's zone by the server, as the page first drew them.
        li.appendChild(document.createTextNode(" " + block.dataset.sinceLabel + " " + person.joined));
        ul.appendChild(li);
      });
      div.appendChild(ul);
      box.appendChild(div);
    });
  }

  function poll(block) {
    var url = block.dataset.presenceUrl;
    if (!url) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) render(block, data.rooms); })
      .catch(function () {})
      .then(function () { setTimeout(function () { poll(block); }, EVERY_MS); });
  }

  function start() {
    document.querySelectorAll(".insights-presence").forEach(function (block) {
      setTimeout(function () { poll(block); }, EVERY_MS);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

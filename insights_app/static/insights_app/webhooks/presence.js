// Refreshes every "In rooms now" block from its JSON URL; builds nodes with textContent only, user text isolated.
(function () {
  "use strict";
  var EVERY_MS = 3000;

  function time(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

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
      h.appendChild(code);
      h.appendChild(document.createTextNode(" — " + room.num_clients + " " + block.dataset.clientsLabel));
      div.appendChild(h);
      var ul = document.createElement("ul");
      room.people.forEach(function (person) {
        var li = document.createElement("li");
        li.appendChild(isolated(person.display_name || "—"));
        li.appendChild(document.createTextNode(" ("));
        li.appendChild(isolated(person.role_name));
        li.appendChild(document.createTextNode(") " + block.dataset.sinceLabel + " " + time(person.joined_at)));
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

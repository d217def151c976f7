/* Draws the report charts from their json_script figures, in the admin's light or dark colours. */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // The admin's CSS variables already follow its theme toggle and prefers-color-scheme.
  function themed(layout) {
    var fg = cssVar("--body-fg", "#333");
    var grid = cssVar("--hairline-color", "#e8e8e8");
    var out = JSON.parse(JSON.stringify(layout));
    out.paper_bgcolor = "rgba(0,0,0,0)";
    out.plot_bgcolor = "rgba(0,0,0,0)";
    out.font = Object.assign({}, out.font || {}, { color: fg });
    ["xaxis", "yaxis", "yaxis2"].forEach(function (axis) {
      if (out[axis]) {
        out[axis].gridcolor = grid;
        out[axis].zerolinecolor = grid;
        out[axis].linecolor = grid;
      }
    });
    return out;
  }

  function draw() {
    if (!window.Plotly) {
      return;
    }
    document.querySelectorAll(".insights-chart[data-figure], .insights-plot[data-figure]").forEach(function (box) {
      var source = document.getElementById(box.dataset.figure);
      if (!source) {
        return;
      }
      var figure = JSON.parse(source.textContent);
      // On a phone the toolbar would sit on the title; pinch-zoom does its job there.
      var narrow = window.matchMedia && window.matchMedia("(max-width: 700px)").matches;
      window.Plotly.react(box, figure.data, themed(figure.layout), {
        responsive: true,
        displaylogo: false,
        displayModeBar: narrow ? false : "hover",
        modeBarButtonsToRemove: ["sendDataToCloud"],
      });
      if (figure.links && !box.dataset.linked) {
        // A bar leads to the rows behind it (same origin links built by the server).
        box.dataset.linked = "1";
        box.classList.add("insights-chart-linked");
        box.on("plotly_click", function (event) {
          var point = event.points && event.points[0];
          var url = point && figure.links[point.pointIndex];
          if (url) {
            window.location.href = url;
          }
        });
      }
    });
  }

  function watchTheme() {
    new MutationObserver(draw).observe(document.documentElement, {
      attributes: true,
      attributeFilter: ["data-theme"],
    });
    if (window.matchMedia) {
      window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);
    }
  }

  // Picking a preset submits at once; typing a day switches the period to "custom".
  function wireFilters() {
    var form = document.getElementById("insights-filters");
    if (!form) {
      return;
    }
    var period = document.getElementById("insights-period");
    // A preset needs no days: leave them out of the URL so the preset keeps rolling with today.
    function dropDaysUnlessCustom() {
      var custom = period.value === "custom";
      document.getElementById("insights-start").disabled = !custom;
      document.getElementById("insights-end").disabled = !custom;
    }
    period.addEventListener("change", function () {
      if (period.value !== "custom") {
        dropDaysUnlessCustom();
        form.submit();
      }
    });
    ["insights-start", "insights-end"].forEach(function (id) {
      document.getElementById(id).addEventListener("change", function () {
        period.value = "custom";
      });
    });
    form.addEventListener("submit", dropDaysUnlessCustom);
  }

  // A page that queued "Fetch network samples" follows the run and reloads once it has finished, as
  // the sync dashboard follows its runs.
  function awaitRun() {
    var root = document.getElementById("insights-reports");
    var url = root && root.dataset.awaitedRunUrl;
    if (!url) {
      return;
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (run) {
          if (run && run.finished) {
            window.location.reload();
          } else {
            window.setTimeout(poll, 3000);
          }
        })
        .catch(function () { window.setTimeout(poll, 10000); });
    }
    window.setTimeout(poll, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    awaitRun();
    wireFilters();
    draw();
    watchTheme();
  });
})();

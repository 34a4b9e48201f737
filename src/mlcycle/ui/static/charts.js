/* Draws the charts of a page with uPlot from the JSON specs the server embedded
   (<script id="chart-specs">; format in mlcycle/ui/_charts.py). No other dependency. */
(function () {
  "use strict";
  var HEIGHT = 240;
  var node = document.getElementById("chart-specs");
  if (!node || typeof uPlot === "undefined") { return; }
  var specs = JSON.parse(node.textContent);
  var plots = [];

  function tickLabels(ticks) {
    return function (u, splits) {
      return splits.map(function (v) {
        return Number.isInteger(v) && v >= 0 && v < ticks.length ? ticks[v] : "";
      });
    };
  }

  function options(spec, width) {
    var ticks = spec.ticks;
    var x = { label: spec.xlabel || (ticks ? "" : "x") };
    var xAxis = { label: spec.xlabel || undefined, stroke: "#5f6b7a", grid: { stroke: "#eef1f4" } };
    if (ticks) {
      x.value = function (u, v) { return v == null ? "" : (ticks[v] || ""); };
      xAxis.values = tickLabels(ticks);
      xAxis.space = 70;
      xAxis.incrs = [1, 2, 3, 4, 6, 12, 24, 48, 96];
    }
    var paths = spec.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    var series = [x].concat(spec.series.map(function (s) {
      return {
        label: s.label, stroke: s.colour, width: 1.5, spanGaps: true, paths: paths,
        points: { show: spec.x.length <= 60, size: 5 }
      };
    }));
    var yAxis = { stroke: "#5f6b7a", grid: { stroke: "#eef1f4" }, size: 60 };
    if (spec.stepped) { yAxis.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]; }
    return {
      width: width, height: HEIGHT,
      scales: { x: { time: false } },
      series: series,
      axes: [xAxis, yAxis],
      cursor: { drag: { x: true, y: false } },
      legend: { show: true }
    };
  }

  specs.forEach(function (spec) {
    var el = document.querySelector('[data-chart="' + spec.id + '"]');
    if (!el) { return; }
    el.textContent = "";
    var data = [spec.x].concat(spec.series.map(function (s) { return s.y; }));
    var plot = new uPlot(options(spec, el.clientWidth || 440), data, el);
    el.setAttribute("data-drawn", String(spec.x.length));
    plots.push({ plot: plot, el: el });
  });

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(function () {
      plots.forEach(function (p) { p.plot.setSize({ width: p.el.clientWidth, height: HEIGHT }); });
    }, 150);
  });
}());

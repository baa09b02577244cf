// Coverage chart: visited / unvisited households per grid (data from a json_script tag).
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("coverage-chart");
    var dataEl = document.getElementById("coverage-data");
    if (!el || !dataEl || !window.echarts) return;
    var data = JSON.parse(dataEl.textContent);
    var chart = window.echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [el.dataset.visited || "已走访", el.dataset.unvisited || "未走访"] },
      grid: { left: 40, right: 10, bottom: 60 },
      xAxis: { type: "category", data: data.labels, axisLabel: { rotate: 30 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: el.dataset.visited || "已走访", type: "bar", stack: "n", data: data.visited, itemStyle: { color: "#15803d" } },
        { name: el.dataset.unvisited || "未走访", type: "bar", stack: "n", data: data.unvisited, itemStyle: { color: "#dc2626" } }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();

// Draws the key-group bar chart of the overview (data from a json_script block).
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) return;
  document.querySelectorAll("[data-echarts]").forEach(function (el) {
    var data = JSON.parse(document.getElementById(el.dataset.echarts).textContent);
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      grid: { left: 8, right: 8, top: 16, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.labels, inverse: true },
      series: [{ type: "bar", data: data.values, itemStyle: { color: "#c0392b" }, barMaxWidth: 18 }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
});
